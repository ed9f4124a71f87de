# %% cell: parallel_count
import multiprocessing

import tally


def parallel_count(processes, times):
    """Run tally.add_many(counter, lock, times) in `processes` processes at once; return the final count."""
    # Joins each process right after starting it, so they run one after another.
    counter = multiprocessing.Value("i", 0)
    lock = multiprocessing.Lock()
    for _ in range(processes):
        adder = multiprocessing.Process(target=tally.add_many, args=(counter, lock, times))
        adder.start()
        adder.join()
    return counter.value
