# Forgets to pass workers, so the pool has one thread per CPU.
from multiprocessing.pool import ThreadPool


def thread_pool_map(func, items, workers):
    """Return [func(item) for item in items], computed by a ThreadPool of `workers` threads that is closed and joined."""
    pool = ThreadPool()
    results = pool.map(func, items)
    pool.close()
    pool.join()
    return results
