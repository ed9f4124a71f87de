"""How many CPUs this process may use."""

from __future__ import annotations

import os

__all__ = ["usable_cpu_count"]


def usable_cpu_count() -> int:
    """The number of CPUs this process may run on, at least 1.

    Not the machine's total (``os.cpu_count()``): an affinity mask set by ``taskset``, a
    batch scheduler or a container's cpuset can allow fewer, and sizing work by the total
    then starts more busy workers than there are CPUs to run them.
    """
    if hasattr(os, "process_cpu_count"):  # Python 3.13+: affinity where the platform has it
        count = os.process_cpu_count()
    elif hasattr(os, "sched_getaffinity"):  # Linux
        count = len(os.sched_getaffinity(0))
    else:  # macOS and Windows before 3.13 cannot restrict a process's CPUs this way
        count = os.cpu_count()
    return max(1, count or 1)
