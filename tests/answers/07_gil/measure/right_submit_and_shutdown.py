# Imports perf_counter by name, submits every item, waits for the futures, and shuts down by hand.
# racy: the wall-clock time of the batch (was: real sleeps against thresholds)
from concurrent.futures import wait
from time import perf_counter


def measure(executor_cls, func, items, workers):
    """Wall-clock seconds to run func over items in executor_cls(max_workers=workers), start-up and shutdown included."""
    began = perf_counter()
    executor = executor_cls(max_workers=workers)
    try:
        futures = [executor.submit(func, item) for item in items]
        wait(futures)
        for future in futures:
            future.result()
    finally:
        executor.shutdown()
    return perf_counter() - began
