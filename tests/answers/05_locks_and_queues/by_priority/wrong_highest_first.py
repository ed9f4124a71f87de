# Negates the priority, so the highest priority number comes out first.
import itertools
import queue


def by_priority(tasks):
    """Return the names of (priority, name, payload) tasks in the order a PriorityQueue hands them out, ties in input order."""
    counter = itertools.count()
    q = queue.PriorityQueue()
    for priority, name, payload in tasks:
        q.put((-priority, next(counter), name, payload))
    return [q.get()[2] for _ in range(len(tasks))]
