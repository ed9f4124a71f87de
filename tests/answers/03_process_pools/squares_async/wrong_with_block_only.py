from multiprocessing import Pool

from course.workers import square


def squares_async(numbers, processes):
    """Square each number in a pool of `processes` workers, one apply_async per number; return the squares in order."""
    # Relies on the with block, which terminates the pool instead of closing and joining it.
    with Pool(processes) as pool:
        results = [pool.apply_async(square, (n,)) for n in numbers]
        return [result.get(timeout=10) for result in results]
