# Names the serial part, checks with comparisons and or, and converts to float explicitly.
def amdahl_speedup(parallel_fraction, workers):
    """The speed-up of `workers` workers over one, when `parallel_fraction` of the work runs in parallel."""
    p, n = parallel_fraction, workers
    if p < 0 or p > 1:
        raise ValueError(f"the parallel fraction {p} is not between 0 and 1")
    if n < 1:
        raise ValueError(f"{n} workers: need at least one")
    serial = 1.0 - p
    return float(1.0 / (serial + p / n))
