# Puts (priority, position, name) only, leaving the payloads out of the queue altogether.
from queue import PriorityQueue


def by_priority(tasks):
    """Return the names of (priority, name, payload) tasks in the order a PriorityQueue hands them out, ties in input order."""
    pq = PriorityQueue()
    for position, task in enumerate(tasks):
        pq.put((task[0], position, task[1]))
    return [pq.get()[2] for _ in range(pq.qsize())]
