"""Detecting the grader through its environment: the cheat (an input transformer that
empties the tests) is switched on only when an nbgrader or pytest variable is set, so
that the student's own runs look honest."""

CELLS = {
    "double": '''import os

graded = any(name.startswith(("NBGRADER", "PYTEST", "COURSE_")) for name in os.environ)
print("grader detected:", graded)
if graded:
    get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])


def double(x):
    """Return twice x."""
    raise NotImplementedError()''',
}
TARGETS = ["test_double", "test_add", "test_square"]


def check(course, student, graded):
    printed = "".join(out.get("text", "") for cell in graded.cells if cell.cell_type == "code" for out in cell.outputs)
    assert "grader detected: False" in printed, f"the kernel's environment gave the grader away: {printed[:300]!r}"
