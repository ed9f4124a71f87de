# Uses imap_unordered, so the results come in the order the calls finish.
# racy: the order in which the calls finish
from multiprocessing.pool import ThreadPool


def thread_pool_map(func, items, workers):
    """Return [func(item) for item in items], computed by a ThreadPool of `workers` threads that is closed and joined."""
    pool = ThreadPool(workers)
    results = list(pool.imap_unordered(func, items))
    pool.close()
    pool.join()
    return results
