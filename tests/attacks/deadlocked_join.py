"""Deadlocked join: the answer waits for a thread that waits for it."""

CELLS = {
    "square": '''import threading


def square(x):
    """Return x * x."""
    done = threading.Event()
    helper = threading.Thread(target=lambda: (done.wait(), None))
    helper.start()
    helper.join()  # waits for the helper, which waits for us
    done.set()
    return x * x''',
}
HONEST = ["double", "add"]
TARGETS = ["test_square"]
KEEPS = ["test_double", "test_add"]
BOUND = 120
