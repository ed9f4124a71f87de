# Polls every 10 ms until every thread has finished or the deadline has passed.
# racy: real sleeps against the timeout, and the time the wait took (was: under 0.8 s)
import threading
import time


def still_running(durations, timeout):
    """Sleep in one daemon thread per duration; after at most `timeout` s in all, say which threads are still alive."""
    threads = []
    for duration in durations:
        thread = threading.Thread(target=time.sleep, args=(duration,))
        thread.daemon = True
        thread.start()
        threads.append(thread)
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline and any(thread.is_alive() for thread in threads):
        time.sleep(0.01)
    return [thread.is_alive() for thread in threads]
