# Starts the clock after making the executor, so its start-up is not counted.
# racy: the wall-clock time of the batch (was: real sleeps against thresholds)
import time


def measure(executor_cls, func, items, workers):
    """Wall-clock seconds to run func over items in executor_cls(max_workers=workers), start-up and shutdown included."""
    with executor_cls(max_workers=workers) as executor:
        start = time.perf_counter()
        list(executor.map(func, items))
    return time.perf_counter() - start
