import multiprocessing

from course import workers


def completion_order(delays, processes):
    """Run slow_identity on each delay in a pool of `processes` workers; return the results in the order they finish."""
    # apply_async with a callback, which the pool calls as each task finishes; then close and join.
# racy: the order in which the pool's workers finish, which a late worker start used to change
    finished = []
    pool = multiprocessing.Pool(processes)
    for delay in delays:
        pool.apply_async(workers.slow_identity, (delay,), callback=finished.append)
    pool.close()
    pool.join()
    return finished
