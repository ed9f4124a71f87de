import multiprocessing

from course.workers import square_slice


def fill_squares(n, processes):
    """Fill a shared Array with i * i for i in range(n), split into `processes` slices, one process each."""
    # Treats stop as the last index to fill, so the last item of every slice is skipped.
    array = multiprocessing.Array("i", n)
    size, extra = divmod(n, processes)
    jobs, start = [], 0
    for k in range(processes):
        last = start + size + (1 if k < extra else 0) - 1
        jobs.append(multiprocessing.Process(target=square_slice, args=(array, start, last)))
        start = last + 1
    for job in jobs:
        job.start()
    for job in jobs:
        job.join()
    return list(array)
