# Puts (priority, payload, name): any tie in priority compares two dicts and raises TypeError.
import queue


def by_priority(tasks):
    """Return the names of (priority, name, payload) tasks in the order a PriorityQueue hands them out, ties in input order."""
    q = queue.PriorityQueue()
    for priority, name, payload in tasks:
        q.put((priority, payload, name))
    return [q.get()[2] for _ in tasks]
