from multiprocessing import Pool

from course.workers import slow_identity


def completion_order(delays, processes):
    """Run slow_identity on each delay in a pool of `processes` workers; return the results in the order they finish."""
    # Gives each worker an equal share of the delays as chunks, so results come out a chunk at a time.
# racy: when each worker starts and finishes its chunk
    chunksize = max(1, len(delays) // processes)
    with Pool(processes) as pool:
        return list(pool.imap_unordered(slow_identity, delays, chunksize=chunksize))
