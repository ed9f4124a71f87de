# Returns the time that is left, (1 - p) + p / n, instead of its reciprocal.
def amdahl_speedup(parallel_fraction, workers):
    """The speed-up of `workers` workers over one, when `parallel_fraction` of the work runs in parallel."""
    if not 0 <= parallel_fraction <= 1:
        raise ValueError("parallel_fraction must be between 0 and 1")
    if workers < 1:
        raise ValueError("workers must be at least 1")
    return (1 - parallel_fraction) + parallel_fraction / workers
