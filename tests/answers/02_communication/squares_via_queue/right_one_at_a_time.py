import multiprocessing

from course.workers import put_square


def squares_via_queue(numbers):
    """Square each number in a process of its own, through one shared Queue; return the squares in input order."""
    # Runs one process at a time: starts it, takes its square from the queue, joins it, then the next.
    queue = multiprocessing.Queue()
    squares = []
    for index, number in enumerate(numbers):
        process = multiprocessing.Process(target=put_square, args=(queue, index, number))
        process.start()
        _, square = queue.get(timeout=60)
        squares.append(square)
        process.join()
    return squares
