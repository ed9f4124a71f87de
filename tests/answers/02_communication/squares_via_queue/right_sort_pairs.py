import multiprocessing
from course.workers import put_square


def squares_via_queue(numbers):
    """Square each number in a process of its own, through one shared Queue; return the squares in input order."""
    # Collects the pairs, joins, then sorts the pairs by index (indexes are unique, so squares are never compared).
    q = multiprocessing.Queue()
    ps = []
    for i in range(len(numbers)):
        ps.append(multiprocessing.Process(target=put_square, args=(q, i, numbers[i])))
    for p in ps:
        p.start()
    pairs = []
    while len(pairs) < len(numbers):
        pairs.append(q.get())
    for p in ps:
        p.join()
    pairs.sort(key=lambda pair: pair[0])
    return [pair[1] for pair in pairs]
