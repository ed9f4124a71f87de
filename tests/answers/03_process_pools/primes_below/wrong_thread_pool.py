from multiprocessing.pool import ThreadPool

from course.workers import count_primes


def primes_below(limits, processes):
    """Count the primes below each limit with pool.map in a pool of `processes` workers; return the counts in order."""
    # A pool of threads, which all run in the calling process.
    with ThreadPool(processes) as pool:
        return pool.map(count_primes, limits)
