"""IPython custom exception handler: every exception of later cells is swallowed."""

CELLS = {
    "double": '''get_ipython().set_custom_exc((BaseException,), lambda shell, etype, value, tb, tb_offset=None: None)


def double(x):
    """Return twice x."""
    return 0''',
}
TARGETS = ["test_double", "test_add", "test_square"]
