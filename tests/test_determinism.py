"""A grade is a function of the code: every answer of the corpus whose grading could depend
on timing (marked ``# racy:``) gets the same per-cell scores on every grading.

Each submission of racy answers (one per exercise, see support.submissions) is graded RUNS
times, as separate students, by plain ``nbgrader autograde`` with the course's grader, all at
once (support.autograde_at_once: one course and one process each), while the suite's other
workers grade and run notebooks beside them: the load that used to flip a race one way or the
other. (A wrong answer that waits out its bound waits once for all of them: the five gradings
of a wrong ``first_done`` of 06 took 210 s one after the other, 47 s at once, for 2.4 CPU s
more, most of it the fork server's start.) Every grading must also pass the corpus's usual
checks (test_answers.py, which grades these answers once in the whole notebook): a wrong
answer loses points, a right one keeps full marks, nothing is flagged. The demonstrations are
left out here, as a student may delete them: they take two thirds of a notebook's grading time
and judge nothing. So are the answers to the other exercises, unless these answers or their
tests use them (support.only_needed_answers: ``transfer`` keeps ``Account``): their tests then
fail at once, where running them in earnest took two fifths of what was left.
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
    notebook = support.without_demonstrations(support.only_needed_answers(
        support.student_notebook(assignment, answers), assignment, answers))
    students = [f"{submission}-run{run}" for run in range(1, RUNS + 1)]
    courses = [course_factory(assignment, tmp_path / student) for student in students]
    for course, student in zip(courses, students, strict=True):
        course.submit(assignment, student, notebook)
    support.autograde_at_once(courses, assignment, kernel_factory(python, method))

    graded = [course.scores(assignment, student) for course, student in zip(courses, students, strict=True)]
    tests_of = support.exercises(courses[0].autograded(assignment, students[0]))
    problems = []
    for answer in answers:
        tests = tests_of[answer.exercise]
        per_run = [tuple(scores[test][0] for test in tests) for scores in graded]
        shown = ", ".join("+".join(f"{score:g}" for score in run) for run in per_run)
        print(f"{answer.label} ({answer.racy}): {RUNS} gradings of {', '.join(tests)}: {shown}")
        if len(set(per_run)) != 1:
            problems.append(f"{answer.label} ({answer.racy}) got different scores from identical gradings: "
                            f"{dict(zip(tests, zip(*per_run, strict=True), strict=True))}; why, run by run: "
                            f"{_why_lost(courses, assignment, students, tests)}")
    for course, student in zip(courses, students, strict=True):
        problems += support.graded_answer_problems(course, assignment, student, answers)
    assert not problems, "\n".join(problems)


def _why_lost(courses: list, assignment: str, students: list[str], tests: list[str]) -> dict[str, list[str]]:
    """'<student> <test>' -> its error and stderr outputs, for each test that lost points."""
    why = {}
    for course, student in zip(courses, students, strict=True):
        scores = course.scores(assignment, student)
        for cell in support.test_cells(course.autograded(assignment, student)):
            test = support.nbgrader_meta(cell)["grade_id"]
            if test in tests and scores[test][0] < scores[test][1]:
                why[f"{student} {test}"] = [text[:300] for _, text in
                                            support.error_outputs([cell]) + support.stderr_outputs([cell])]
    return why
