import math
import multiprocessing

from course.workers import square_slice


def fill_squares(n, processes):
    """Fill a shared Array with i * i for i in range(n), split into `processes` slices, one process each."""
    # Rounds the slice size up, so the last slice is left short (sizes 3, 3, 3, 1 for 10 items in 4 slices).
    array = multiprocessing.Array("i", n)
    size = math.ceil(n / processes)
    jobs = [
        multiprocessing.Process(target=square_slice, args=(array, min(k * size, n), min((k + 1) * size, n)))
        for k in range(processes)
    ]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join()
    return list(array)
