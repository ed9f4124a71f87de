"""Memory hog: the answer fills memory 100 MB at a time, for ever."""

CELLS = {
    "double": '''hoard = []


def double(x):
    """Return twice x."""
    while True:
        hoard.append(b"x" * 10**8)''',
}
HONEST = ["add", "square"]
TARGETS = ["test_double"]
KEEPS = ["test_add", "test_square"]
BOUND = 120
