# Uses a ThreadPoolExecutor instead of multiprocessing.pool.ThreadPool.
from concurrent.futures import ThreadPoolExecutor


def thread_pool_map(func, items, workers):
    """Return [func(item) for item in items], computed by a ThreadPool of `workers` threads that is closed and joined."""
    with ThreadPoolExecutor(max_workers=workers) as executor:
        return list(executor.map(func, items))
