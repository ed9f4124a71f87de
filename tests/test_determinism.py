"""A grade is a function of the code: every answer of the corpus whose grading could depend
on timing (marked ``# racy:``) gets the same per-cell scores on every grading.

Each submission of racy answers (one per exercise, see support.submissions) is graded RUNS
times, as separate students, by plain ``nbgrader autograde`` with the course's grader, while
the suite's other workers grade and run notebooks beside it: the load that used to flip a
race one way or the other. (A wrong answer that waits out its bound makes this test long
but idle: support.schedule runs such tests beside ones that compute. Grading the five
copies at once with ``run.py autograde --jobs 5`` was measured too: it cost three times the
CPU, for the worker processes' own start.) Every grading must also pass the corpus's usual checks
(test_answers.py, which grades these answers once in the whole notebook): a wrong answer
loses points, a right one keeps full marks, nothing is flagged. The demonstrations are left
out here, as a student may delete them: they take two thirds of a notebook's grading time
and judge nothing. So are the answers to the other exercises, unless these answers or their
tests use them (support.only_needed_answers: ``transfer`` keeps ``Account``): their tests
then fail at once, where running them in earnest took two fifths of what was left.
"""

from __future__ import annotations

import os

import pytest

import support

RUNS = int(os.environ.get("COURSE_DETERMINISM_RUNS", "5"))


def racy_corpus() -> list:
    return [
        pytest.param(assignment, name, python, method, id=f"{assignment}-{name}-{python}-{method}")
        for assignment in support.assignments()
        for name in support.submissions(assignment, racy=True)
        for python in support.ANSWERS_PYTHONS
        for method in support.ANSWERS_METHODS
    ]


def test_runs_is_enough():
    assert RUNS >= 5, f"COURSE_DETERMINISM_RUNS is {RUNS}; expected at least 5 gradings per racy answer"


@pytest.mark.parametrize("assignment, submission, python, method", racy_corpus())
def test_racy_answers_graded_the_same_every_time(assignment, submission, python, method, kernel_factory,
                                                  course_factory, tmp_path):
    answers = support.submissions(assignment, racy=True)[submission]
    course = course_factory(assignment, tmp_path / "course")
    notebook = support.without_demonstrations(support.only_needed_answers(
        support.student_notebook(assignment, answers), assignment, answers))
    students = [f"{submission}-run{run}" for run in range(1, RUNS + 1)]
    for student in students:
        course.submit(assignment, student, notebook)
    course.autograde(assignment, kernel_factory(python, method))

    graded = [course.scores(assignment, student) for student in students]
    tests_of = support.exercises(course.autograded(assignment, students[0]))
    problems = []
    for answer in answers:
        tests = tests_of[answer.exercise]
        per_run = [tuple(scores[test][0] for test in tests) for scores in graded]
        shown = ", ".join("+".join(f"{score:g}" for score in run) for run in per_run)
        print(f"{answer.label} ({answer.racy}): {RUNS} gradings of {', '.join(tests)}: {shown}")
        if len(set(per_run)) != 1:
            problems.append(f"{answer.label} ({answer.racy}) got different scores from identical gradings: "
                            f"{dict(zip(tests, zip(*per_run, strict=True), strict=True))}")
    for student in students:
        problems += support.graded_answer_problems(course, assignment, student, answers)
    assert not problems, "\n".join(problems)
