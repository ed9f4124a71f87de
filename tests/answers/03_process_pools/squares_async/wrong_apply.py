from multiprocessing import Pool

from course.workers import square


def squares_async(numbers, processes):
    """Square each number in a pool of `processes` workers, one apply_async per number; return the squares in order."""
    # Uses the blocking apply, one call after another.
    pool = Pool(processes)
    squares = [pool.apply(square, (n,)) for n in numbers]
    pool.close()
    pool.join()
    return squares
