import multiprocessing

from course.workers import square


def squares_async(numbers, processes):
    """Square each number in a pool of `processes` workers, one apply_async per number; return the squares in order."""
    # A with block from the default context, closed and joined inside; results in a dict by index.
    with multiprocessing.get_context().Pool(processes) as pool:
        pending = {i: pool.apply_async(square, [n]) for i, n in enumerate(numbers)}
        pool.close()
        pool.join()
        return [pending[i].get(timeout=5) for i in range(len(numbers))]
