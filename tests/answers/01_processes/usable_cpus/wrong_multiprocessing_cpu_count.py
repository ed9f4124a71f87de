import os
import multiprocessing


def usable_cpus() -> int:
    """Return how many CPUs this process may run on (at least 1)."""
    # Uses multiprocessing.cpu_count(), which is os.cpu_count() (and raises when that is unknown).
    return multiprocessing.cpu_count()
