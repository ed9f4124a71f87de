"""Each assignment, on every Python and start method: the source notebook runs cleanly and
in time, autograding it as a submission gives full marks, and the untouched release gives 0."""

from __future__ import annotations

import pytest

import support


def test_reference_full_marks_and_blank_zero(assignment, python_minor, start_method, kernel_factory, course_factory, tmp_path):
    kernel = kernel_factory(python_minor, start_method)
    course = course_factory(assignment, tmp_path / "course")
    course.submit(assignment, "reference", support.read(support.source_notebook(assignment)))
    course.submit(assignment, "blank", support.read(support.release_notebook(assignment)))
    course.autograde(assignment, kernel)

    # The source notebook, run top to bottom by the grader: no errors, in time.
    graded = course.autograded(assignment, "reference")
    assert support.error_outputs(graded.cells) == [], "the source notebook raised errors when run top to bottom"
    seconds = support.execution_seconds(graded)
    assert seconds <= support.NOTEBOOK_SECONDS, (
        f"the source notebook took {seconds:.1f} s to run; the budget is {support.NOTEBOOK_SECONDS:.0f} s"
    )
    noisy = {cell.metadata.nbgrader["grade_id"]: support.stderr_of(cell) for cell in support.test_cells(graded)
             if support.stderr_of(cell)}
    assert noisy == {}, "test cells of the reference answers wrote to stderr (nbgrader scores that 0)"

    # Only the test cells are graded automatically; a manually graded answer scores 0 until
    # an instructor grades it.
    autograded = {cell.metadata.nbgrader["grade_id"] for cell in support.test_cells(graded)}
    reference = course.scores(assignment, "reference")
    lost = {cell: score for cell, score in reference.items() if cell in autograded and score[0] != score[1]}
    assert lost == {}, f"the reference answers lost points: {lost}"

    blank = course.scores(assignment, "blank")
    for exercise, tests in support.exercises(graded).items():
        earned = sum(blank[test][0] for test in tests)
        assert earned == 0, f"the untouched release notebook earned {earned} points on {exercise}; expected 0"
    print(f"{assignment} on Python {python_minor} with {start_method}: ran in {seconds:.1f} s; "
          f"reference {sum(reference[c][0] for c in autograded):g}/{sum(reference[c][1] for c in autograded):g} "
          "on the autograded cells, "
          f"blank {sum(s for s, _ in blank.values()):g}")
