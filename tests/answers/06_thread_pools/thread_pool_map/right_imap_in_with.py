# Collects imap's results inside a with block, closing and joining the pool before the block ends.
# racy: how many of the pool's downloads overlap (was: 0.15 s downloads had to overlap 3 at once)
import multiprocessing.pool


def thread_pool_map(func, items, workers):
    """Return [func(item) for item in items], computed by a ThreadPool of `workers` threads that is closed and joined."""
    with multiprocessing.pool.ThreadPool(workers) as pool:
        results = list(pool.imap(func, items))
        pool.close()
        pool.join()
    return results
