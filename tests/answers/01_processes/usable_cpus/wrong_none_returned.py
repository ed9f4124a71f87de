import os


def usable_cpus() -> int:
    """Return how many CPUs this process may run on (at least 1)."""
    # Follows the fallbacks but returns None when os.cpu_count() does not know.
    if hasattr(os, "process_cpu_count"):
        return os.process_cpu_count()
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()
