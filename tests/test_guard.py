"""The course-files guard (grader.guard), on a tiny course folder and no kernel: what the
run's graders write is theirs; anything else that changes the course's files or gradebook is
reported, and put back where it can be. The same rules for a run of one process (sequential
nbgrader) and for a run whose graders are several processes (two GradingRun objects on one
folder stand for two of them here)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from grader.guard import CourseGuard, GradingRun


@pytest.fixture
def course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    (root / "source" / "ps1").mkdir(parents=True)
    (root / "source" / "ps1" / "ps1.ipynb").write_text('{"hidden": "tests"}')
    (root / "release" / "ps1").mkdir(parents=True)
    (root / "release" / "ps1" / "ps1.ipynb").write_text('{"cells": []}')
    (root / "nbgrader_config.py").write_text("c = get_config()\n")
    for student in ("alice", "bob"):
        (root / "submitted" / student / "ps1").mkdir(parents=True)
        (root / "submitted" / student / "ps1" / "ps1.ipynb").write_text(f'{{"by": "{student}"}}')
    with sqlite3.connect(root / "gradebook.db") as connection:
        connection.execute("CREATE TABLE grade (student TEXT, score REAL)")
    connection.close()
    return root


def write_gradebook(course: Path, sql: str) -> None:
    connection = sqlite3.connect(course / "gradebook.db")
    connection.execute(sql)
    connection.commit()
    connection.close()


def grades(course: Path) -> list[tuple[str, float]]:
    connection = sqlite3.connect(course / "gradebook.db")
    rows = connection.execute("SELECT student, score FROM grade ORDER BY student").fetchall()
    connection.close()
    return rows


def graded(course: Path, student: str) -> Path:
    return course / "autograded" / student / "ps1"


def test_course_files_changed_or_deleted_are_put_back(course, tmp_path):
    run = GradingRun(tmp_path / "run")
    with CourseGuard(course, course / "gradebook.db", [graded(course, "alice")], run=run) as guard:
        (course / "source" / "ps1" / "ps1.ipynb").write_text('{"hidden": "none"}')
        (course / "release" / "ps1" / "ps1.ipynb").unlink()
        (course / "source" / "ps1" / "answers.py").write_text("cheat = True")
        graded(course, "alice").mkdir(parents=True)
        (graded(course, "alice") / "ps1.ipynb").write_text("{}")  # its own folder: no change of the course
        changes = guard.check_and_restore()
    assert sorted(changes) == sorted([
        "release/ps1/ps1.ipynb was deleted (put back)",
        "source/ps1/answers.py was created (removed)",
        "source/ps1/ps1.ipynb was changed (put back)",
    ])
    assert (course / "source" / "ps1" / "ps1.ipynb").read_text() == '{"hidden": "tests"}'
    assert (course / "release" / "ps1" / "ps1.ipynb").read_text() == '{"cells": []}'
    assert not (course / "source" / "ps1" / "answers.py").exists()
    assert (graded(course, "alice") / "ps1.ipynb").exists()


def test_only_gradebook_writes_outside_the_runs_sessions_are_reported_and_undone(course, tmp_path):
    run = GradingRun(tmp_path / "run")
    gradebook = run.gradebook(course / "gradebook.db")
    with CourseGuard(course, course / "gradebook.db", [graded(course, "alice")], run=run) as guard:
        with gradebook.session():  # the run's own write, as nbgrader's SaveAutoGrades makes it
            write_gradebook(course, "INSERT INTO grade VALUES ('alice', 1.0)")
        assert guard.check_and_restore() == []
        write_gradebook(course, "UPDATE grade SET score = 100.0")  # not in a session: as a kernel would
        changes = guard.check_and_restore()
    assert grades(course) == [("alice", 1.0)], "the write outside a session was not undone"
    assert changes == ["gradebook.db was changed (put back) while autograded/alice/ps1 was being graded"]


def test_a_session_finds_and_undoes_an_outside_write_first(course, tmp_path):
    """Another grader's session, between two checks, puts the gradebook back before it writes;
    every guard of the run still reports the change."""
    run = GradingRun(tmp_path / "run")
    other = GradingRun(tmp_path / "run")  # another process of the same run
    with CourseGuard(course, course / "gradebook.db", [graded(course, "alice")], run=run) as guard:
        write_gradebook(course, "INSERT INTO grade VALUES ('mallory', 100.0)")
        with other.gradebook(course / "gradebook.db").session():
            assert grades(course) == [], "the session began before the outside write was undone"
            write_gradebook(course, "INSERT INTO grade VALUES ('bob', 2.0)")
        changes = guard.check_and_restore()
    assert grades(course) == [("bob", 2.0)]
    assert changes == ["gradebook.db was changed (put back) while autograded/alice/ps1 was being graded"]


def test_a_gradebook_change_while_no_one_is_graded_is_no_submissions_doing(course, tmp_path):
    """Between two grading commands of one process (Formgrader's server, say), another program
    may write the gradebook: that is kept, and reported by no guard."""
    run = GradingRun(tmp_path / "run")
    with CourseGuard(course, course / "gradebook.db", [graded(course, "alice")], run=run) as guard:
        assert guard.check_and_restore() == []
    write_gradebook(course, "INSERT INTO grade VALUES ('alice', 3.0)")  # `nbgrader db` in a terminal
    with CourseGuard(course, course / "gradebook.db", [graded(course, "bob")], run=run) as guard:
        assert guard.check_and_restore() == []
    assert grades(course) == [("alice", 3.0)]


def test_other_students_files_are_reported_unless_a_grader_of_the_run_writes_them(course, tmp_path):
    run = GradingRun(tmp_path / "run")
    other = GradingRun(tmp_path / "run")  # the worker grading bob
    graded(course, "bob").mkdir(parents=True)
    (graded(course, "bob") / "ps1.ipynb").write_text("{}")
    with CourseGuard(course, None, [graded(course, "alice")], run=run) as guard:
        with other.claim(graded(course, "bob")):
            (graded(course, "bob") / "ps1.ipynb").write_text('{"graded": true}')
            assert guard.check_and_restore() == [], "bob's grader writes his graded folder"
            (graded(course, "bob") / "timestamp.txt").write_text("now")
        assert guard.check_and_restore() == [], "what bob's grader left is bob's graded folder"
        os.utime(graded(course, "bob") / "ps1.ipynb", ns=(1, 1))  # after his grader finished
        (course / "submitted" / "bob" / "ps1" / "ps1.ipynb").write_text("{}")
        changes = guard.check_and_restore()
    assert sorted(changes) == [
        "autograded/bob/ps1/ps1.ipynb was changed (another student's file: not put back)",
        "submitted/bob/ps1/ps1.ipynb was changed (another student's file: not put back)",
    ]


def test_a_sequential_run_sees_the_previous_students_graded_folder_as_it_was(course, tmp_path):
    """One process, one notebook after another: the graded notebook nbgrader writes after a
    notebook's guard closed is no change for the next guard; a later change to it is."""
    run = GradingRun(tmp_path / "run")
    with CourseGuard(course, course / "gradebook.db", [graded(course, "alice")], run=run) as guard:
        graded(course, "alice").mkdir(parents=True)
        assert guard.check_and_restore() == []
    (graded(course, "alice") / "ps1.ipynb").write_text('{"graded": true}')  # nbgrader, after the notebook
    with CourseGuard(course, course / "gradebook.db", [graded(course, "bob")], run=run) as guard:
        assert guard.check_and_restore() == []
        (graded(course, "alice") / "ps1.ipynb").write_text('{"graded": "by bob"}')
        changes = guard.check_and_restore()
    assert changes == ["autograded/alice/ps1/ps1.ipynb was changed (another student's file: not put back)"]
