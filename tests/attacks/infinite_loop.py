"""Infinite loop in an answer cell."""

CELLS = {
    "double": '''def double(x):
    """Return twice x."""
    while True:
        pass


while True:
    pass''',
}
HONEST = ["add", "square"]
TARGETS = ["test_double"]
KEEPS = ["test_add", "test_square"]
BOUND = 120
