# Relies on the with block, which terminates the pool instead of closing and joining it.
from multiprocessing.pool import ThreadPool


def thread_pool_map(func, items, workers):
    """Return [func(item) for item in items], computed by a ThreadPool of `workers` threads that is closed and joined."""
    with ThreadPool(workers) as pool:
        return pool.map(func, items)
