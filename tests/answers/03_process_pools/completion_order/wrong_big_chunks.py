from multiprocessing import Pool

from course.workers import slow_identity


def completion_order(delays, processes):
    """Run slow_identity on each delay in a pool of `processes` workers; return the results in the order they finish."""
    # Sends the delays in chunks of two, so a result waits for the rest of its chunk.
# racy: when each worker starts and finishes its chunk
    with Pool(processes) as pool:
        return list(pool.imap_unordered(slow_identity, delays, chunksize=2))
