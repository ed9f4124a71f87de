# Starts the threads and asks at once whether they are alive, without waiting at all.
# racy: whether a 0.1 s sleep has ended when it looks, without waiting
import threading
import time


def still_running(durations, timeout):
    """Sleep in one daemon thread per duration; after at most `timeout` s in all, say which threads are still alive."""
    threads = [threading.Thread(target=time.sleep, args=(d,), daemon=True) for d in durations]
    for thread in threads:
        thread.start()
    return [thread.is_alive() for thread in threads]
