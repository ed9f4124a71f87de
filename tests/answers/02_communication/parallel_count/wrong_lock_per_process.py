# %% cell: parallel_count
import multiprocessing

import tally


def parallel_count(processes, times):
    """Run tally.add_many(counter, lock, times) in `processes` processes at once; return the final count."""
    # Makes a new Lock for every process, so the locks exclude nobody.
# racy: whether two processes' read-and-write overlap, so that an update is lost
    counter = multiprocessing.Value("i", 0)
    adders = [
        multiprocessing.Process(target=tally.add_many, args=(counter, multiprocessing.Lock(), times))
        for _ in range(processes)
    ]
    for adder in adders:
        adder.start()
    for adder in adders:
        adder.join()
    return counter.value
