# The same law multiplied through by n: n / (n (1 - p) + p), with the checks written as range tests.
import math


def amdahl_speedup(parallel_fraction, workers):
    """The speed-up of `workers` workers over one, when `parallel_fraction` of the work runs in parallel."""
    if not (0.0 <= parallel_fraction <= 1.0) or math.isnan(parallel_fraction):
        raise ValueError("parallel_fraction must lie in [0, 1]")
    if not workers >= 1:
        raise ValueError("workers must be 1 or more")
    return workers / (workers * (1 - parallel_fraction) + parallel_fraction)
