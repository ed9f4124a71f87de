import os


def usable_cpus() -> int:
    """Return how many CPUs this process may run on (at least 1)."""
    # Right on Linux, but os.sched_getaffinity does not exist on macOS or Windows.
    return len(os.sched_getaffinity(0))
