"""The answer corpus: every wrong answer loses points on its exercise's tests, and every
right answer written differently from the key gets full marks.

Each submission holds one answer per exercise (see support.submissions), graded by plain
`nbgrader autograde` on the Pythons and start methods in support.ANSWERS_PYTHONS and
support.ANSWERS_METHODS; the full Python × start-method matrix is run for the reference
and blank notebooks (test_autograde.py). The answers marked racy are graded several more
times by test_determinism.py.
"""

from __future__ import annotations

import pytest

import support


def corpus() -> list:
    return [
        pytest.param(assignment, name, python, method, id=f"{assignment}-{name}-{python}-{method}")
        for assignment in support.assignments()
        for name in support.submissions(assignment)
        for python in support.ANSWERS_PYTHONS
        for method in support.ANSWERS_METHODS
    ]


@pytest.mark.parametrize("assignment, submission, python, method", corpus())
def test_answers_graded_as_expected(assignment, submission, python, method, kernel_factory, course_factory, tmp_path):
    answers = support.submissions(assignment)[submission]
    course = course_factory(assignment, tmp_path / "course")
    course.submit(assignment, "student", support.student_notebook(assignment, answers))
    course.autograde(assignment, kernel_factory(python, method))

    problems = support.graded_answer_problems(course, assignment, "student", answers)
    assert not problems, "\n".join(problems)
