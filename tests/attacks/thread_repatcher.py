"""A background thread that keeps re-applying a monkeypatch, so that restoring it before
the test is not enough."""

CELLS = {
    "double": '''import threading
import time

import course.checks


class Anything:
    def __eq__(self, other):
        return True


def fake(func, *args, **kwargs):
    return Anything()


def keep_patching():
    while True:
        course.checks.call_with_timeout = fake
        time.sleep(0.001)


threading.Thread(target=keep_patching, daemon=True).start()


def double(x):
    """Return twice x."""
    raise NotImplementedError()''',
}
TARGETS = ["test_double", "test_square"]
EXPECT = "zero or flagged"
