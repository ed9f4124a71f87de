import multiprocessing

from course.workers import square_slice


def fill_squares(n, processes):
    """Fill a shared Array with i * i for i in range(n), split into `processes` slices, one process each."""
    # Puts the larger slices last, and starts no process for an empty slice.
    array = multiprocessing.Array("i", n, lock=False)
    base, extra = divmod(n, processes)
    sizes = [base] * (processes - extra) + [base + 1] * extra
    jobs, start = [], 0
    for size in sizes:
        if size:
            jobs.append(multiprocessing.Process(target=square_slice, args=(array, start, start + size)))
        start += size
    for job in jobs:
        job.start()
    for job in jobs:
        job.join()
    return [array[i] for i in range(n)]
