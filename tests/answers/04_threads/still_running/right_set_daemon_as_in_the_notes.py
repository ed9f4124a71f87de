# Marks each thread daemon with the deprecated setDaemon(True), as the notes do, then joins each for the time left.
# racy: real sleeps against the timeout, and the time the wait took (was: under 0.8 s)
import threading
import time


def still_running(durations, timeout):
    """Sleep in one daemon thread per duration; after at most `timeout` s in all, say which threads are still alive."""
    threads = []
    for duration in durations:
        thread = threading.Thread(target=time.sleep, args=(duration,))
        thread.setDaemon(True)
        thread.start()
        threads.append(thread)
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [thread.is_alive() for thread in threads]
