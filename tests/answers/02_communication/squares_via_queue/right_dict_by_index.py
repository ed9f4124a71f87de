import multiprocessing

from course import workers


def squares_via_queue(numbers):
    """Square each number in a process of its own, through one shared Queue; return the squares in input order."""
    # Starts each process as it is made, keeps the results in a dict by index, and reads them back in order.
    context = multiprocessing.get_context()
    results = context.Queue()
    running = []
    for position, value in enumerate(numbers):
        process = context.Process(target=workers.put_square, args=(results, position, value), name=f"square-{position}")
        process.start()
        running.append(process)
    by_index = dict(results.get(timeout=120) for _ in running)
    for process in running:
        process.join(timeout=120)
    return [by_index[position] for position in range(len(numbers))]
