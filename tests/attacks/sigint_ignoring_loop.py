"""A loop that ignores SIGINT, so that the grader cannot interrupt it."""

CELLS = {
    "double": '''import signal


def double(x):
    """Return twice x."""
    return 2 * x


signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass''',
}
HONEST = ["add", "square"]
TARGETS = ["test_double"]
KEEPS = ["test_add", "test_square"]
# A hanging answer is graded in at most about 45 s (its cell's 20 s, 5 s for each demonstration
# after it; the checks after it fail at once): measured 26-38 s under the suite's load; 60 leaves
# room for a busier machine.
BOUND = 60
