import multiprocessing

from course.workers import put_square


def squares_via_queue(numbers):
    """Square each number in a process of its own, through one shared Queue; return the squares in input order."""
    # Unzips the sorted pairs, which fails for an empty list: zip(*[]) has nothing to unpack.
    queue = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=put_square, args=(queue, i, n)) for i, n in enumerate(numbers)]
    for process in processes:
        process.start()
    pairs = [queue.get() for _ in numbers]
    for process in processes:
        process.join()
    _, squares = zip(*sorted(pairs))
    return list(squares)
