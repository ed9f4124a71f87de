"""Reading the grader's environment and command line from /proc (its parent process), to
detect grading there instead."""

CELLS = {
    "double": '''import os

found = []
for pid in (os.getppid(), 1):
    for name in ("environ", "cmdline"):
        try:
            with open(f"/proc/{pid}/{name}", "rb") as file:
                data = file.read()
            found.append(f"{pid}/{name}: {b'NBGRADER' in data or b'nbgrader' in data or b'pytest' in data}")
        except OSError as error:
            found.append(f"{pid}/{name}: {type(error).__name__}")
print("grader seen:", found)
if any(item.endswith("True") for item in found):
    get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])


def double(x):
    """Return twice x."""
    raise NotImplementedError()''',
}
TARGETS = ["test_double", "test_add", "test_square"]
