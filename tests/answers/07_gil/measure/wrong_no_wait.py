# Submits the work but shuts down with wait=False, so it returns before the tasks have run.
# racy: whether the tasks have run when it reads the clock
import time


def measure(executor_cls, func, items, workers):
    """Wall-clock seconds to run func over items in executor_cls(max_workers=workers), start-up and shutdown included."""
    start = time.perf_counter()
    executor = executor_cls(max_workers=workers)
    for item in items:
        executor.submit(func, item)
    executor.shutdown(wait=False)
    return time.perf_counter() - start
