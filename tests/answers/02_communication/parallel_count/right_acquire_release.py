# %% cell: add_many
%%writefile tally.py
# Uses acquire and release in try/finally, the form in the notes, and reads and writes in two statements.
"""Exercise C: add to a shared counter without losing updates."""


def add_many(counter, lock, times):
    """Add 1 to counter.value, times times, each addition while holding lock."""
    done = 0
    while done < times:
        lock.acquire()
        try:
            current = counter.value
            counter.value = current + 1
        finally:
            lock.release()
        done += 1

# %% cell: parallel_count
import multiprocessing

import tally


def parallel_count(processes, times):
    """Run tally.add_many(counter, lock, times) in `processes` processes at once; return the final count."""
    context = multiprocessing.get_context()
    counter = context.Value("i", 0, lock=False)  # the Lock below guards it
    lock = context.Lock()
    adders = [context.Process(target=tally.add_many, args=(counter, lock), kwargs={"times": times}) for _ in range(processes)]
    [adder.start() for adder in adders]
    [adder.join() for adder in adders]
    return counter.value
