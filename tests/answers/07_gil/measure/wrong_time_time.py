# Reads the wall clock with time.time() instead of time.perf_counter().
# racy: the wall-clock time of the batch (was: real sleeps against a 100-fold clock)
import time


def measure(executor_cls, func, items, workers):
    """Wall-clock seconds to run func over items in executor_cls(max_workers=workers), start-up and shutdown included."""
    start = time.time()
    with executor_cls(max_workers=workers) as executor:
        list(executor.map(func, items))
    return time.time() - start
