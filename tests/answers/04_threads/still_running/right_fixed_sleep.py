# Sleeps the whole timeout once (at most timeout in total, even if everything finished sooner), then looks.
# racy: real sleeps against the timeout, and the time the wait took (was: under 0.8 s)
import threading
import time


def still_running(durations, timeout):
    """Sleep in one daemon thread per duration; after at most `timeout` s in all, say which threads are still alive."""
    threads = [threading.Thread(target=time.sleep, args=(d,), daemon=True) for d in durations]
    for thread in threads:
        thread.start()
    time.sleep(timeout)
    return [thread.is_alive() for thread in threads]
