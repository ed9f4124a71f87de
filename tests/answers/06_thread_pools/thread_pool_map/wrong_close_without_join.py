# Closes the pool but never joins it, so its threads may still run after the function returns.
from multiprocessing.pool import ThreadPool


def thread_pool_map(func, items, workers):
    """Return [func(item) for item in items], computed by a ThreadPool of `workers` threads that is closed and joined."""
    pool = ThreadPool(workers)
    results = pool.map(func, items)
    pool.close()
    return results
