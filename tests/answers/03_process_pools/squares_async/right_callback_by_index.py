import multiprocessing

from course import workers


def squares_async(numbers, processes):
    """Square each number in a pool of `processes` workers, one apply_async per number; return the squares in order."""
    # Callbacks that store each square at its number's index, keyword arguments, no get().
    squares = [None] * len(numbers)
    pool = multiprocessing.Pool(processes=processes)
    for index, n in enumerate(numbers):
        def store(value, index=index):
            squares[index] = value
        pool.apply_async(workers.square, args=(n,), callback=store)
    pool.close()
    pool.join()
    return squares
