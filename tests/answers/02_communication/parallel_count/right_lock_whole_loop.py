# %% cell: add_many
%%writefile tally.py
# Holds the lock once around the whole loop: every addition is under it, and the processes take turns.
"""Exercise C: add to a shared counter without losing updates."""


def add_many(counter, lock, times):
    """Add 1 to counter.value, times times, each addition while holding lock."""
    with lock:
        for _ in range(times):
            counter.value += 1

# %% cell: parallel_count
from multiprocessing import Lock, Process, Value

from tally import add_many


def parallel_count(processes, times):
    """Run tally.add_many(counter, lock, times) in `processes` processes at once; return the final count."""
    total = Value("i", 0)
    guard = Lock()
    jobs = []
    for _ in range(processes):
        jobs.append(Process(target=add_many, kwargs={"counter": total, "lock": guard, "times": times}))
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(timeout=60)
    with guard:
        return int(total.value)
