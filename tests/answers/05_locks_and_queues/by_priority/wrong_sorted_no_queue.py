# Sorts the list by priority (a stable sort keeps ties in order) but never uses a PriorityQueue.
def by_priority(tasks):
    """Return the names of (priority, name, payload) tasks in the order a PriorityQueue hands them out, ties in input order."""
    return [name for priority, name, payload in sorted(tasks, key=lambda task: task[0])]
