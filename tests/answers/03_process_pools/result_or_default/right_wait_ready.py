import multiprocessing

from course.workers import slow_identity


def result_or_default(seconds, timeout, default):
    """Return slow_identity(seconds), run in a pool, if it arrives within `timeout` seconds; else `default`, at once."""
    # wait() and ready() instead of catching the exception; closes and joins when the result came.
# racy: whether the pool starts, times out and terminates within a wall-clock bound
    pool = multiprocessing.Pool(1)
    result = pool.apply_async(slow_identity, (seconds,))
    result.wait(timeout)
    if result.ready():
        pool.close()
        pool.join()
        return result.get()
    pool.terminate()
    pool.join()
    return default
