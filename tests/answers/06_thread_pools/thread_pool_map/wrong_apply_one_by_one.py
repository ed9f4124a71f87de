# Calls pool.apply for each item, which waits for each call before the next: one call at a time.
from multiprocessing.pool import ThreadPool


def thread_pool_map(func, items, workers):
    """Return [func(item) for item in items], computed by a ThreadPool of `workers` threads that is closed and joined."""
    pool = ThreadPool(workers)
    results = [pool.apply(func, (item,)) for item in items]
    pool.close()
    pool.join()
    return results
