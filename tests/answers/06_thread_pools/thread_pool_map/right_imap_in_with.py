# Collects imap's results inside a with block, closing and joining the pool before the block ends.
import multiprocessing.pool


def thread_pool_map(func, items, workers):
    """Return [func(item) for item in items], computed by a ThreadPool of `workers` threads that is closed and joined."""
    with multiprocessing.pool.ThreadPool(workers) as pool:
        results = list(pool.imap(func, items))
        pool.close()
        pool.join()
    return results
