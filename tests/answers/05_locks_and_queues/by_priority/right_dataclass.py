# A dataclass(order=True) with the payload excluded from comparison, as the queue documentation suggests.
import itertools
import queue
from dataclasses import dataclass, field
from typing import Any


@dataclass(order=True)
class Job:
    priority: Any
    sequence: int
    name: str = field(compare=False)
    payload: Any = field(compare=False)


def by_priority(tasks):
    """Return the names of (priority, name, payload) tasks in the order a PriorityQueue hands them out, ties in input order."""
    sequence = itertools.count()
    jobs = queue.PriorityQueue()
    for priority, name, payload in tasks:
        jobs.put(Job(priority, next(sequence), name, payload))
    order = []
    while not jobs.empty():
        order.append(jobs.get_nowait().name)
    return order
