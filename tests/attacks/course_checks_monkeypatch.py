"""Monkeypatching the tests' helper module: course.checks.call_with_timeout returns an
object equal to everything, whatever the answer does."""

CELLS = {
    "double": '''import course.checks


class Anything:
    def __eq__(self, other):
        return True


course.checks.call_with_timeout = lambda func, *args, **kwargs: Anything()
course.checks.stop_children = lambda timeout=5.0: []


def double(x):
    """Return twice x."""
    raise NotImplementedError()''',
}
TARGETS = ["test_double", "test_square"]
