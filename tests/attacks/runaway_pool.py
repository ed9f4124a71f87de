"""Runaway Pool: every call starts a Pool of 48 processes and never closes it."""

CELLS = {
    "double": '''import multiprocessing

from course import workers

pools = []


def double(x):
    """Return twice x."""
    pool = multiprocessing.Pool(48)
    pools.append(pool)
    return pool.apply(workers.exit_with, (0,)) or 2 * x''',
}
HONEST = ["add", "square"]
TARGETS = ["test_double"]
KEEPS = ["test_add", "test_square"]
EXPECT = "zero or flagged"
BOUND = 120
