from multiprocessing import Pool

from course.workers import square


def squares_async(numbers, processes):
    """Square each number in a pool of `processes` workers, one apply_async per number; return the squares in order."""
    # Collects the squares with a callback, so in the order the tasks finish.
# racy: the order in which the pool's workers finish the tasks
    squares = []
    pool = Pool(processes)
    for n in numbers:
        pool.apply_async(square, (n,), callback=squares.append)
    pool.close()
    pool.join()
    return squares
