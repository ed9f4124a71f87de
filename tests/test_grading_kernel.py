"""The grading kernel (grader_kernel.main) as a student's code meets it: failing hidden tests
reported in Python's own traceback format, not IPython's default with context lines, and no
debugger."""

from __future__ import annotations

import pytest

import support

PROBE = ('def double(x):\n    return 2 * x\n\n\nimport sys\n\n'
         'print("debugpy in sys.modules:", sys.modules.get("debugpy"))\n'
         'try:\n    import debugpy\nexcept ImportError as error:\n    print("import debugpy:", type(error).__name__)')


@pytest.fixture(scope="module")
def graded(kernel_factory, tmp_path_factory):
    course = support.make_course(tmp_path_factory.mktemp("kernel") / "course", support.TARGET)
    support.submit_class(course, support.TARGET, {"wrong": support.TARGET_CLASS["wrong"], "probe": {"double": PROBE}})
    course.autograde(support.TARGET, kernel_factory(support.ANSWERS_PYTHONS[0], support.ANSWERS_METHODS[0]))
    return course


def test_a_failing_test_cell_shows_a_plain_traceback(graded):
    notebook = graded.autograded(support.TARGET, "wrong")
    errors = {cell.metadata.nbgrader["grade_id"]: output for cell in support.test_cells(notebook)
              for output in cell.outputs if output.output_type == "error"}
    assert list(errors) == ["test_double"], f"expected only test_double to fail: {list(errors)}"
    lines = support.plain_traceback(errors["test_double"]).splitlines()
    assert lines[0] == "Traceback (most recent call last):", f"expected Python's traceback format:\n{lines}"
    assert lines[-1].startswith("AssertionError"), lines


def test_the_kernel_has_no_debugger(graded):
    """ipykernel imports debugpy at every start only to offer a debugger; a grading kernel
    starts without it (a sixth of its start-up CPU), and the notebook cannot load it."""
    notebook = graded.autograded(support.TARGET, "probe")
    answer = support.cell_of(notebook, "double")
    printed = "".join(output.get("text", "") for output in answer.outputs)
    assert printed.splitlines() == ["debugpy in sys.modules: None", "import debugpy: ModuleNotFoundError"], printed
    assert graded.scores(support.TARGET, "probe")["test_double"] == (2.0, 2.0), "the answer is right all the same"
