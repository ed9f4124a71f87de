import multiprocessing

from course.workers import put_square


def squares_via_queue(numbers):
    """Square each number in a process of its own, through one shared Queue; return the squares in input order."""
    # Ignores the index: returns the squares in the order they arrive, which is the order the processes finish.
# racy: the order in which the processes put their squares on the queue
    queue = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=put_square, args=(queue, i, n)) for i, n in enumerate(numbers)]
    for process in processes:
        process.start()
    squares = [queue.get()[1] for _ in numbers]
    for process in processes:
        process.join()
    return squares
