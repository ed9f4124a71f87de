# Forgets daemon=True, so the interpreter would wait for the sleepers at exit.
# racy: real sleeps against the timeout
import threading
import time


def still_running(durations, timeout):
    """Sleep in one daemon thread per duration; after at most `timeout` s in all, say which threads are still alive."""
    threads = [threading.Thread(target=time.sleep, args=(d,)) for d in durations]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [thread.is_alive() for thread in threads]
