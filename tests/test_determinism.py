"""A grade is a function of the code: every answer of the corpus whose grading could depend
on timing (marked ``# racy:``) gets the same per-cell scores on every grading.

Each racy answer is graded RUNS times in one run of the course's parallel grader, as
separate students, so the gradings overlap one another and the suite's other workers: the
load that used to flip a race one way or the other. Every grading must also pass the
corpus's usual checks (test_answers.py): a wrong answer loses points, a right one keeps
full marks, and nothing is flagged.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import support

RUNS = int(os.environ.get("COURSE_DETERMINISM_RUNS", "5"))
# The parallel grader bounds each notebook itself (HardenedExecute.total_seconds); this only
# keeps a broken grader from hanging the suite: RUNS notebooks per submission, two at a time.
COMMAND_TIMEOUT = 1800


def racy_corpus() -> list:
    return [
        pytest.param(assignment, python, method, id=f"{assignment}-{python}-{method}")
        for assignment in support.assignments()
        if support.submissions(assignment, racy=True)
        for python in support.ANSWERS_PYTHONS
        for method in support.ANSWERS_METHODS
    ]


def test_runs_is_enough():
    assert RUNS >= 5, f"COURSE_DETERMINISM_RUNS is {RUNS}; expected at least 5 gradings per racy answer"


@pytest.mark.parametrize("assignment, python, method", racy_corpus())
def test_racy_answers_graded_the_same_every_time(assignment, python, method, kernel_factory, course_factory,
                                                  tmp_path):
    submissions = support.submissions(assignment, racy=True)
    course = course_factory(assignment, tmp_path / "course")
    for name, answers in submissions.items():
        notebook = support.student_notebook(assignment, answers)
        for run in range(1, RUNS + 1):
            course.submit(assignment, f"{name}-run{run}", notebook)
    kernel = kernel_factory(python, method)
    done = subprocess.run([sys.executable, "-m", "grader.autograde", assignment, "--jobs", "2"],
                          cwd=course.path, env=kernel.env(), capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    assert done.returncode == 0, (
        f"the parallel grader exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")

    problems = []
    for name, answers in submissions.items():
        graded = [course.scores(assignment, f"{name}-run{run}") for run in range(1, RUNS + 1)]
        tests_of = support.exercises(course.autograded(assignment, f"{name}-run1"))
        for answer in answers:
            tests = tests_of[answer.exercise]
            per_run = [tuple(scores[test][0] for test in tests) for scores in graded]
            shown = ", ".join(f"{'+'.join(f'{s:g}' for s in run)}" for run in per_run)
            print(f"{answer.label} ({answer.racy}): {RUNS} gradings of {', '.join(tests)}: {shown}")
            if len(set(per_run)) != 1:
                problems.append(f"{answer.label} ({answer.racy}) got different scores from identical gradings: "
                                f"{dict(zip(tests, zip(*per_run, strict=True), strict=True))}")
        for run in range(1, RUNS + 1):
            problems += support.graded_answer_problems(course, assignment, f"{name}-run{run}", answers)
    assert not problems, "\n".join(problems)
