import multiprocessing

from course.workers import square_slice


def fill_squares(n, processes):
    """Fill a shared Array with i * i for i in range(n), split into `processes` slices, one process each."""
    # Gives every process n // processes items and the last one the whole remainder: the slices are not as equal as possible.
    array = multiprocessing.Array("i", n)
    size = n // processes
    jobs = []
    for k in range(processes):
        stop = n if k == processes - 1 else (k + 1) * size
        jobs.append(multiprocessing.Process(target=square_slice, args=(array, k * size, stop)))
    for job in jobs:
        job.start()
    for job in jobs:
        job.join()
    return list(array)
