# Stops the clock right after executor.map returns, which is at once: map only submits the tasks, and the waiting comes later.
# racy: whether the tasks have run when it reads the clock
import time


def measure(executor_cls, func, items, workers):
    """Wall-clock seconds to run func over items in executor_cls(max_workers=workers), start-up and shutdown included."""
    start = time.perf_counter()
    with executor_cls(max_workers=workers) as executor:
        results = executor.map(func, items)
        elapsed = time.perf_counter() - start
        list(results)
    return elapsed
