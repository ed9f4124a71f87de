# %% cell: add_many
%%writefile tally.py
# Reads the value before taking the lock, and only writes under it: another process can write in between.
# racy: whether another process writes between a read and the locked write
"""Exercise C: add to a shared counter without losing updates."""


def add_many(counter, lock, times):
    """Add 1 to counter.value, times times, each addition while holding lock."""
    for _ in range(times):
        current = counter.value
        with lock:
            counter.value = current + 1

# %% cell: parallel_count
import multiprocessing

import tally


def parallel_count(processes, times):
    """Run tally.add_many(counter, lock, times) in `processes` processes at once; return the final count."""
    counter = multiprocessing.Value("i", 0)
    lock = multiprocessing.Lock()
    adders = [multiprocessing.Process(target=tally.add_many, args=(counter, lock, times)) for _ in range(processes)]
    for adder in adders:
        adder.start()
    for adder in adders:
        adder.join()
    return counter.value
