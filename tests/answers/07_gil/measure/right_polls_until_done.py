# Submits every item and polls the futures until all are done, then shuts the executor down and reads timeit's default timer.
# racy: the wall-clock time of the batch, and when the tasks run
import time
import timeit


def measure(executor_cls, func, items, workers):
    """Wall-clock seconds to run func over items in executor_cls(max_workers=workers), start-up and shutdown included."""
    began = timeit.default_timer()
    executor = executor_cls(max_workers=workers)
    futures = [executor.submit(func, item) for item in items]
    while not all(future.done() for future in futures):
        time.sleep(0.001)
    for future in futures:
        future.result()
    executor.shutdown(wait=True)
    return timeit.default_timer() - began
