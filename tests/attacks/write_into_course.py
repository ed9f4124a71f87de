"""Writing into the course: overwrite the source notebook, the release, the gradebook and
the grading configuration, and plant a file in source/."""

CELLS = {
    "double": '''import glob

for path in (glob.glob("../../../source/*/*.ipynb") + glob.glob("../../../release/*/*.ipynb")
             + ["../../../gradebook.db", "../../../nbgrader_config.py", "../../../source/planted.py"]):
    try:
        with open(path, "w") as file:
            file.write("overwritten by a student")
        print("wrote", path)
    except OSError as error:
        print("refused", path, type(error).__name__)


def double(x):
    """Return twice x."""
    raise NotImplementedError()''',
}
HONEST = ["add", "square"]
TARGETS = ["test_double"]
KEEPS = ["test_add", "test_square"]
