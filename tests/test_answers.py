"""The answer corpus: every wrong answer loses points on its exercise's tests, and every
right answer written differently from the key gets full marks.

Each submission holds one answer per exercise (see support.submissions), graded by plain
`nbgrader autograde` on the Pythons and start methods in support.ANSWERS_PYTHONS and
support.ANSWERS_METHODS; the full Python × start-method matrix is run for the reference
and blank notebooks (test_autograde.py).

The first submission of right answers is graded in the whole notebook, demonstrations and
all, as a student hands it in: it must keep its full marks beside the demonstrations that
call it (as the reference does in test_autograde.py). So is the first submission of wrong
answers, which must lose its points, and get no flag, beside them. The others are graded
without the demonstrations (a student may delete them), which judge nothing and took two
thirds of a grading's time. The wrong answers marked racy are left to test_determinism.py,
which grades each of them five times.
"""

from __future__ import annotations

import pytest

import support

WHOLE = ("right-1", "wrong-1")  # the submissions graded in the whole notebook


def corpus() -> list:
    return [
        pytest.param(assignment, name, python, method, id=f"{assignment}-{name}-{python}-{method}")
        for assignment in support.assignments()
        for name in support.submissions(assignment, racy_wrong=False)
        for python in support.ANSWERS_PYTHONS
        for method in support.ANSWERS_METHODS
    ]


@pytest.mark.parametrize("assignment, submission, python, method", corpus())
def test_answers_graded_as_expected(assignment, submission, python, method, kernel_factory, course_factory, tmp_path):
    answers = support.submissions(assignment, racy_wrong=False)[submission]
    notebook = support.student_notebook(assignment, answers)
    if submission not in WHOLE:
        notebook = support.without_demonstrations(notebook)
    course = course_factory(assignment, tmp_path / "course")
    course.submit(assignment, "student", notebook)
    course.autograde(assignment, kernel_factory(python, method))

    problems = support.graded_answer_problems(course, assignment, "student", answers)
    assert not problems, "\n".join(problems)
