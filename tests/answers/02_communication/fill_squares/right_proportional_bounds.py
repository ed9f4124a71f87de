import multiprocessing

from course import workers


def fill_squares(n, processes):
    """Fill a shared Array with i * i for i in range(n), split into `processes` slices, one process each."""
    # Puts the boundaries at k * n // processes, which makes sizes that differ by at most one.
    shared = multiprocessing.Array("i", [0] * n)
    bounds = [k * n // processes for k in range(processes + 1)]
    jobs = [
        multiprocessing.Process(target=workers.square_slice, kwargs={"array": shared, "start": a, "stop": b})
        for a, b in zip(bounds, bounds[1:])
    ]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(timeout=60)
    return shared[:]
