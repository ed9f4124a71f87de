# Uses map_async and get(timeout), then closes and joins the pool.
# racy: how many of the pool's downloads overlap (was: 0.15 s downloads had to overlap 3 at once)
from multiprocessing.pool import ThreadPool


def thread_pool_map(func, items, workers):
    """Return [func(item) for item in items], computed by a ThreadPool of `workers` threads that is closed and joined."""
    pool = ThreadPool(processes=workers)
    results = pool.map_async(func, items).get(timeout=60)
    pool.close()
    pool.join()
    return results
