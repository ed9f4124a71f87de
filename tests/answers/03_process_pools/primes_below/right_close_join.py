from multiprocessing import Pool

from course.workers import count_primes


def primes_below(limits, processes):
    """Count the primes below each limit with pool.map in a pool of `processes` workers; return the counts in order."""
    # Closes and joins instead of a with block, with chunks of one limit.
    pool = Pool(processes=processes)
    try:
        counts = pool.map(count_primes, list(limits), chunksize=1)
    finally:
        pool.close()
        pool.join()
    return counts
