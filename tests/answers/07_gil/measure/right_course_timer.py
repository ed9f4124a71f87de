# Times the whole with block with the course's Timer, which reads time.perf_counter.
# racy: the wall-clock time of the batch (was: real sleeps against thresholds)
from course.timing import Timer


def measure(executor_cls, func, items, workers):
    """Wall-clock seconds to run func over items in executor_cls(max_workers=workers), start-up and shutdown included."""
    with Timer() as timer:
        with executor_cls(workers) as executor:
            for _ in executor.map(func, items):
                pass
    return timer.seconds
