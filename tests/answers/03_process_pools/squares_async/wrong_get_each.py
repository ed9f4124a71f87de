from multiprocessing import Pool

from course.workers import square


def squares_async(numbers, processes):
    """Square each number in a pool of `processes` workers, one apply_async per number; return the squares in order."""
    # Waits for each result right after submitting it, so the tasks run one at a time.
    pool = Pool(processes)
    squares = []
    for n in numbers:
        squares.append(pool.apply_async(square, (n,)).get(timeout=10))
    pool.close()
    pool.join()
    return squares
