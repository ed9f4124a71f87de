"""Reading the hidden tests: from the source notebook, the release folder's siblings, the
sanitized notebook beside the kernel, and the kernel's own history; answers then return
what the hidden tests expect."""

CELLS = {
    "double": '''import glob
import json
import os

seen = {}
for pattern in ("../../../source/*/*.ipynb", "*.ipynb", "../../*/*/*.ipynb", "../../../release/*/*.ipynb"):
    for path in glob.glob(pattern):
        try:
            with open(path) as file:
                seen[path] = "BEGIN HIDDEN" in file.read()
        except OSError as error:
            seen[path] = type(error).__name__
print("hidden tests seen:", seen)
HIDDEN = any(value is True for value in seen.values())


def double(x):
    """Return twice x."""
    if HIDDEN:
        return 2 * x
    raise NotImplementedError()''',
    "square": '''def square(x):
    """Return x * x."""
    history = " ".join(get_ipython().user_ns.get("In", []))
    if "HIDDEN " + "TESTS" in history or "(0, -4, " + "12)" in history:  # (not in this cell's own source)
        return x * x
    raise NotImplementedError()''',
}
HONEST = ["add"]
TARGETS = ["test_double", "test_square"]
KEEPS = ["test_add"]
