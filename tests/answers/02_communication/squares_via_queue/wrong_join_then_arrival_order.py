import multiprocessing

from course.workers import put_square


def squares_via_queue(numbers):
    """Square each number in a process of its own, through one shared Queue; return the squares in input order."""
    # Joins every process, then takes the squares in the order they reached the queue, ignoring the index.
# racy: the order in which the processes put their squares on the queue
    queue = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=put_square, args=(queue, i, n)) for i, n in enumerate(numbers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    return [queue.get()[1] for _ in numbers]
