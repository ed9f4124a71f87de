# A shortcut for p = 1 that returns workers itself, an int, not a float.
def amdahl_speedup(parallel_fraction, workers):
    """The speed-up of `workers` workers over one, when `parallel_fraction` of the work runs in parallel."""
    if not 0 <= parallel_fraction <= 1:
        raise ValueError("parallel_fraction must be between 0 and 1")
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if parallel_fraction == 1:
        return workers
    return 1 / ((1 - parallel_fraction) + parallel_fraction / workers)
