import os


def usable_cpus() -> int:
    """Return how many CPUs this process may run on (at least 1)."""
    # Looks the functions up with getattr and try/except instead of hasattr.
    process_cpu_count = getattr(os, "process_cpu_count", None)
    if process_cpu_count is not None:
        count = process_cpu_count()
    else:
        try:
            count = len(os.sched_getaffinity(0))
        except AttributeError:
            count = os.cpu_count()
    if count is None or count < 1:
        return 1
    return count
