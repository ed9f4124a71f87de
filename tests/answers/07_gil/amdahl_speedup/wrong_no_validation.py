# The formula alone: no ValueError, so workers=0 raises ZeroDivisionError and p=1.5 returns a number.
def amdahl_speedup(parallel_fraction, workers):
    """The speed-up of `workers` workers over one, when `parallel_fraction` of the work runs in parallel."""
    return 1 / ((1 - parallel_fraction) + parallel_fraction / workers)
