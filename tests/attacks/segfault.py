"""Segmentation fault: the answer crashes the kernel when called."""

CELLS = {
    "double": '''import faulthandler


def double(x):
    """Return twice x."""
    faulthandler.disable()
    faulthandler._sigsegv()''',
}
HONEST = ["add", "square"]
TARGETS = ["test_double"]
KEEPS = ["test_add", "test_square"]
BOUND = 90
