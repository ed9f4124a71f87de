# Guards only against dividing by zero: negative or fractional worker counts get through.
def amdahl_speedup(parallel_fraction, workers):
    """The speed-up of `workers` workers over one, when `parallel_fraction` of the work runs in parallel."""
    if parallel_fraction < 0 or parallel_fraction > 1:
        raise ValueError("parallel_fraction must be between 0 and 1")
    if workers == 0:
        raise ValueError("workers must not be 0")
    return 1 / ((1 - parallel_fraction) + parallel_fraction / workers)
