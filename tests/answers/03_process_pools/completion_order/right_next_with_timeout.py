import multiprocessing

from course.workers import slow_identity


def completion_order(delays, processes):
    """Run slow_identity on each delay in a pool of `processes` workers; return the results in the order they finish."""
    # Takes each result with next(timeout) from imap_unordered, then closes and joins the pool.
# racy: the order in which the pool's workers finish, which a late worker start used to change
    pool = multiprocessing.get_context().Pool(processes=processes)
    results = pool.imap_unordered(slow_identity, delays, chunksize=1)
    order = [results.next(timeout=30) for _ in delays]
    pool.close()
    pool.join()
    return order
