from multiprocessing import Pool, TimeoutError as PoolTimeout

from course import workers


def result_or_default(seconds, timeout, default):
    """Return slow_identity(seconds), run in a pool, if it arrives within `timeout` seconds; else `default`, at once."""
    # A with block, whose exit terminates the pool, and the exception imported under another name.
# racy: whether the pool starts, times out and terminates within a wall-clock bound
    with Pool(processes=2) as pool:
        pending = pool.apply_async(workers.slow_identity, args=(seconds,))
        try:
            return pending.get(timeout)
        except PoolTimeout:
            return default
