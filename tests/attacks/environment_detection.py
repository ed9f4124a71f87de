"""Detecting the grader through its environment: the cheat (an input transformer that
empties the tests) is switched on only when an nbgrader or pytest variable is set, so
that the student's own runs look honest. NBGRADER_EXECUTION, nbgrader's documented
signal, reaches the kernel (README "Grading safely"): the cheat runs, and the sealed
tests must still fail; no other variable of the grader's may show."""

CELLS = {
    "double": '''import os

seen = sorted(name for name in os.environ if name.startswith(("NBGRADER", "PYTEST", "COURSE_")))
print("grader variables:", seen)
if seen:
    get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])


def double(x):
    """Return twice x."""
    raise NotImplementedError()''',
}
TARGETS = ["test_double", "test_add", "test_square"]


def check(course, student, graded):
    printed = "".join(out.get("text", "") for cell in graded.cells if cell.cell_type == "code" for out in cell.outputs)
    assert "grader variables: ['NBGRADER_EXECUTION']" in printed, (
        f"the kernel's environment is not nbgrader's NBGRADER_EXECUTION alone: {printed[:300]!r}")
