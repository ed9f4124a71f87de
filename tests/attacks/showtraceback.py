"""showtraceback replacement: IPython shows no error, so a failing test looks clean."""

CELLS = {
    "double": '''shell = get_ipython()
shell.showtraceback = lambda *args, **kwargs: None
shell._showtraceback = lambda *args, **kwargs: None


def double(x):
    """Return twice x."""
    return 0''',
}
TARGETS = ["test_double", "test_add", "test_square"]
