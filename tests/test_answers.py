"""The answer corpus: every wrong answer loses points on its exercise's tests, and every
right answer written differently from the key gets full marks.

Each submission holds one answer per exercise (see support.submissions), graded by plain
`nbgrader autograde` on the Pythons and start methods in support.ANSWERS_PYTHONS and
support.ANSWERS_METHODS; the full Python × start-method matrix is run for the reference
and blank notebooks (test_autograde.py).
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

    scores = course.scores(assignment, "student")
    graded = course.autograded(assignment, "student")
    tests_of = support.exercises(graded)
    failures = {
        support.nbgrader_meta(cell)["grade_id"]: support.error_outputs([cell])
        for cell in support.test_cells(graded)
    }
    problems = []
    for answer in answers:
        tests = tests_of[answer.exercise]
        earned = sum(scores[test][0] for test in tests)
        possible = sum(scores[test][1] for test in tests)
        why = {test: failures[test] for test in tests if failures[test]}
        if answer.right and earned != possible:
            problems.append(f"{answer.label} ({answer.description}) is right but earned {earned:g}/{possible:g}: {why}")
        if not answer.right and earned >= possible:
            problems.append(f"{answer.label} ({answer.description}) is wrong but earned {earned:g}/{possible:g}")
        print(f"{answer.label}: {earned:g}/{possible:g}")
    # No answer in the corpus tampers with anything: the hardened grader must flag none.
    flags = graded.metadata.get("course_grading", {}).get("flags")
    if flags is None:
        problems.append("the graded notebook has no report from grader: was the hardened grader used?")
    elif flags:
        problems.append(f"the grader flagged an honest submission for review: {flags}")
    # Feedback must explain itself: a failed assertion says what was expected.
    for test, errors in failures.items():
        for _, error in errors:
            if error.startswith("AssertionError") and "expected" not in error:
                problems.append(f"{test} failed with a message that does not say what was expected: {error}")
    assert not problems, "\n".join(problems)
