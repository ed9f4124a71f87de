import os
import sys


def usable_cpus() -> int:
    """Return how many CPUs this process may run on (at least 1)."""
    # Chooses by Python version and platform instead of by what os has.
    if sys.version_info >= (3, 13):
        n = os.process_cpu_count()
    elif "sched_getaffinity" in dir(os):
        n = len(os.sched_getaffinity(0))
    else:
        n = os.cpu_count()
    return max(n or 0, 1)
