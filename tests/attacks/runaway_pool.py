"""Runaway Pool: every call starts a Pool of 96 processes and never closes it.

96, not fewer: the processes must be far over the memory cap (2048 MB, the sum of their
resident memory) for the cap to trip at the same cell on every grading. Forked from a
kernel, a Pool of 48 sums to 1,800-2,060 MB: just under the cap or just over it, so the
second pool, made in test_double, tripped it on some gradings and a later test on others.
A Pool of 96 sums to about twice the cap when forked, and two of them (the demonstration's
and test_double's) to more than the cap when spawned.
"""

CELLS = {
    "double": '''import multiprocessing

from course import workers

pools = []


def double(x):
    """Return twice x."""
    pool = multiprocessing.Pool(96)
    pools.append(pool)
    return pool.apply(workers.exit_with, (0,)) or 2 * x''',
}
HONEST = ["add", "square"]
TARGETS = ["test_double"]
KEEPS = ["test_add", "test_square"]
EXPECT = "zero or flagged"
BOUND = 120
