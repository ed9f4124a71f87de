import multiprocessing
import queue

from course.workers import slow_identity


def result_or_default(seconds, timeout, default):
    """Return slow_identity(seconds), run in a pool, if it arrives within `timeout` seconds; else `default`, at once."""
    # Catches queue.Empty, as for a queue's get, instead of multiprocessing.TimeoutError.
    pool = multiprocessing.Pool(1)
    try:
        return pool.apply_async(slow_identity, (seconds,)).get(timeout)
    except queue.Empty:
        return default
    finally:
        pool.terminate()
