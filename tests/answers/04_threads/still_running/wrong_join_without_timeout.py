# Joins every thread without a timeout, so it waits for the longest sleep and reports all finished.
# racy: real sleeps against the timeout
import threading
import time


def still_running(durations, timeout):
    """Sleep in one daemon thread per duration; after at most `timeout` s in all, say which threads are still alive."""
    threads = [threading.Thread(target=time.sleep, args=(d,), daemon=True) for d in durations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [thread.is_alive() for thread in threads]
