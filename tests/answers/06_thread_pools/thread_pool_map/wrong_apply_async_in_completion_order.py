# Starts every call with apply_async, but collects the results with a callback, in the order the calls finish.
# racy: the order in which the calls finish
from multiprocessing.pool import ThreadPool


def thread_pool_map(func, items, workers):
    """Return [func(item) for item in items], computed by a ThreadPool of `workers` threads that is closed and joined."""
    results = []
    pool = ThreadPool(workers)
    for item in items:
        pool.apply_async(func, (item,), callback=results.append)
    pool.close()
    pool.join()
    return results
