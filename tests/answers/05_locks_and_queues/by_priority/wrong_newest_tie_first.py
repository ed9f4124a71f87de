# Breaks ties with a decreasing counter, so equal priorities come out newest first.
import queue


def by_priority(tasks):
    """Return the names of (priority, name, payload) tasks in the order a PriorityQueue hands them out, ties in input order."""
    q = queue.PriorityQueue()
    for position, (priority, name, payload) in enumerate(tasks):
        q.put((priority, -position, name, payload))
    return [q.get()[2] for _ in range(len(tasks))]
