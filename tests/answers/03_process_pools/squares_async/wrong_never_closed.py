from multiprocessing import Pool

from course.workers import square


def squares_async(numbers, processes):
    """Square each number in a pool of `processes` workers, one apply_async per number; return the squares in order."""
    # Fetches every result but never closes or joins the pool: its workers keep running.
    pool = Pool(processes)
    results = [pool.apply_async(square, (n,)) for n in numbers]
    return [result.get(timeout=10) for result in results]
