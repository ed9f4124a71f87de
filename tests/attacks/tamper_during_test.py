"""Tampering while the test runs: the answer, when the test calls it, patches the
test's helper (and the test's own name for it) so that the next checks pass."""

CELLS = {
    "double": '''import course.checks


class Anything:
    def __eq__(self, other):
        return True


def double(x):
    """Return twice x."""
    fake = lambda func, *args, **kwargs: Anything()
    course.checks.call_with_timeout = fake
    globals()["call_with_timeout"] = fake
    return 4''',
}
TARGETS = ["test_double"]
