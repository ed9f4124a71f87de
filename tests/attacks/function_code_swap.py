"""Swapping a helper's code object: call_with_timeout keeps its identity but runs the student's code."""

CELLS = {
    "double": '''from course.checks import call_with_timeout


class Anything:
    def __eq__(self, other):
        return True


def fake(func, /, *args, timeout=10.0, **kwargs):
    return Anything()


try:
    call_with_timeout.__code__ = fake.__code__
except Exception as error:
    print("swap refused:", error)


def double(x):
    """Return twice x."""
    raise NotImplementedError()''',
}
TARGETS = ["test_double", "test_square"]
