"""What a student sees of a failing hidden test: the grading kernel (grader_kernel.main)
reports it in Python's own traceback format, not IPython's default with context lines."""

from __future__ import annotations

import support


def test_a_failing_test_cell_shows_a_plain_traceback(kernel_factory, tmp_path):
    course = support.make_course(tmp_path / "course", support.TARGET)
    support.submit_class(course, support.TARGET, {"wrong": support.TARGET_CLASS["wrong"]})
    course.autograde(support.TARGET, kernel_factory(support.ANSWERS_PYTHONS[0], support.ANSWERS_METHODS[0]))

    graded = course.autograded(support.TARGET, "wrong")
    errors = {cell.metadata.nbgrader["grade_id"]: output for cell in support.test_cells(graded)
              for output in cell.outputs if output.output_type == "error"}
    assert list(errors) == ["test_double"], f"expected only test_double to fail: {list(errors)}"
    lines = support.plain_traceback(errors["test_double"]).splitlines()
    assert lines[0] == "Traceback (most recent call last):", f"expected Python's traceback format:\n{lines}"
    assert lines[-1].startswith("AssertionError"), lines
