# %% cell: parallel_count
import multiprocessing

import tally


def parallel_count(processes, times):
    """Run tally.add_many(counter, lock, times) in `processes` processes at once; return the final count."""
    # Returns the shared Value itself instead of its .value.
    counter = multiprocessing.Value("i", 0)
    lock = multiprocessing.Lock()
    adders = [multiprocessing.Process(target=tally.add_many, args=(counter, lock, times)) for _ in range(processes)]
    for adder in adders:
        adder.start()
    for adder in adders:
        adder.join()
    return counter
