# %% cell: parallel_count
import multiprocessing

import tally


def parallel_count(processes, times):
    """Run tally.add_many(counter, lock, times) in `processes` processes at once; return the final count."""
    # Reads the count right after starting the processes, before joining them.
# racy: how far the processes have counted when the parent reads the value
    counter = multiprocessing.Value("i", 0)
    lock = multiprocessing.Lock()
    adders = [multiprocessing.Process(target=tally.add_many, args=(counter, lock, times)) for _ in range(processes)]
    for adder in adders:
        adder.start()
    total = counter.value
    for adder in adders:
        adder.join()
    return total
