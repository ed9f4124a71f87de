"""Builtins monkeypatch: type() says every value is an int, and the answers return an
object equal to everything."""

CELLS = {
    "double": '''import builtins


class Anything:
    def __eq__(self, other):
        return True

    def __repr__(self):
        return "4"


real_type = builtins.type
builtins.type = lambda *args: int if len(args) == 1 and real_type(args[0]) is Anything else real_type(*args)


def double(x):
    """Return twice x."""
    return Anything()''',
    "square": '''def square(x):
    """Return x * x."""
    return Anything()''',
}
TARGETS = ["test_double", "test_square"]
