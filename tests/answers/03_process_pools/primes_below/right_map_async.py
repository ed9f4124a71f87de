import multiprocessing

import course.workers


def primes_below(limits, processes):
    """Count the primes below each limit with pool.map in a pool of `processes` workers; return the counts in order."""
    # map_async on a pool of the default context, fetched with a timeout.
    with multiprocessing.get_context().Pool(processes) as pool:
        return pool.map_async(course.workers.count_primes, limits).get(timeout=60)
