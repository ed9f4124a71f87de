"""Parallel autograding (grader.autograde, `python3 run.py autograde`): the same
results as sequential `nbgrader autograde`, in the same gradebook and autograded/ folders,
with the hardened grader; a gradebook at another database URL; a clean stop on Ctrl-C
that a re-run completes; a clear refusal of bad input that changes nothing; and the
benchmark's quick run.

The class is small and cheap: support's synthetic "target" assignment (three
exercises, one or two seconds a notebook), handed in by an honest student, a blank
notebook, a wrong answer, an answer that kills its kernel (os._exit) and one that hangs
(the hidden test's 10 s bound ends it).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

import support
from grader import autograde
from grader.guard import CourseGuard, GradingRun
from grader.summary import grades_of
from support import TARGET, leftover_processes, make_course

# Each student's answers, in place of the key's, and what they earn, test by test: the
# grades both graders must give.
CLASS = support.TARGET_CLASS
EXPECTED = support.TARGET_CLASS_SCORES
# A bound on a whole command, so that a hang fails the test instead of stalling the suite.
# The class takes about 25 s on two idle CPUs; a busy machine (the suite runs beside it)
# can make that several times longer.
COMMAND_TIMEOUT = 300


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated target course with the class handed in (made once per test worker)."""
    path = tmp_path_factory.mktemp("classgrade") / "course"
    support.submit_class(make_course(path, TARGET), TARGET, CLASS)
    return path


@pytest.fixture
def kernel(kernel_factory):
    # Like the answer corpus: this Python, and the start method graders get by default.
    return kernel_factory(support.ANSWERS_PYTHONS[0], support.ANSWERS_METHODS[0])


def copy_course(template: Path, path: Path) -> support.Course:
    return support.Course.create(path, TARGET, template=template)


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "grader.autograde", *args]


def run(course: support.Course, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), cwd=course.path, env=env, capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT)


def scores(db_url: str) -> dict[str, dict[str, float | None]]:
    """student -> test -> score, from a gradebook."""
    return {student: {name.split("/")[1]: cell.auto_score for name, cell in cells.items() if "#" not in name}
            for student, cells in grades_of(db_url, TARGET).items()}


def report(course: support.Course, student: str) -> dict:
    """What the hardened grader wrote into the graded notebook, without its timings."""
    info = dict(course.autograded(TARGET, student).metadata.get("course_grading", {}))
    return {key: info.get(key) for key in ("flags", "notes", "restarts")}


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_parallel_results_equal_sequential(template, kernel, tmp_path):
    sequential = copy_course(template, tmp_path / "sequential")
    sequential.autograde(TARGET, kernel)  # plain `nbgrader autograde target --force`, in this process
    parallel = copy_course(template, tmp_path / "parallel")
    children_before = {child.pid for child in psutil.Process().children(recursive=True)}
    done = run(parallel, TARGET, "--jobs", "2", env=kernel.env())
    assert done.returncode == 0, f"exit status {done.returncode}:\n{done.stdout}\n{done.stderr}"

    expected = grades_of(f"sqlite:///{sequential.path / 'gradebook.db'}", TARGET)
    got = grades_of(f"sqlite:///{parallel.path / 'gradebook.db'}", TARGET)
    assert got == expected, "the parallel run's scores, review flags or comments differ from sequential nbgrader's"
    assert scores(f"sqlite:///{parallel.path / 'gradebook.db'}") == EXPECTED
    for student in CLASS:
        # The hardened grader graded each one, alike: the same notes (kernel restarts, ...) and flags.
        assert report(parallel, student) == report(sequential, student), student
        flags = report(parallel, student)["flags"]
        assert flags == {}, f"{student} was flagged for review: {report(parallel, student)}"
        assert f"\n{student} " in done.stdout, f"the summary has no line for {student}:\n{done.stdout}"
    assert report(parallel, "crash")["restarts"] == 1, "the crashing answer should have cost one kernel restart"
    assert leftover_processes(parallel, set(), children_before) == []


def test_gradebook_at_another_url(template, kernel, tmp_path):
    """--db is nbgrader's: the grades go to that gradebook, and the course's default stays absent."""
    course = copy_course(template, tmp_path / "course")
    elsewhere = tmp_path / "elsewhere" / "grades.db"
    elsewhere.parent.mkdir()
    (course.path / "gradebook.db").rename(elsewhere)
    done = run(course, TARGET, "--jobs", "1", f"--db=sqlite:///{elsewhere}",
               "--CourseDirectory.student_id_exclude=crash,hang,wrong", env=kernel.env())
    assert done.returncode == 0, f"exit status {done.returncode}:\n{done.stdout}\n{done.stderr}"
    assert scores(f"sqlite:///{elsewhere}") == {s: EXPECTED[s] for s in ("blank", "honest")}
    assert not (course.path / "gradebook.db").exists(), "a gradebook was made at the default place"
    assert sorted(p.name for p in (course.path / "autograded").iterdir()) == ["blank", "honest"]


def test_ctrl_c_leaves_each_student_graded_or_not_and_a_rerun_finishes(template, kernel, tmp_path):
    course = copy_course(template, tmp_path / "course")
    children_before = {child.pid for child in psutil.Process().children(recursive=True)}
    # In a session of its own, like a terminal's foreground job: SIGINT goes to its group, and
    # raises KeyboardInterrupt even where this suite was started with SIGINT ignored (as a
    # script's background job is, and whatever it starts: Python then installs no handler).
    foreground = [sys.executable, "-c",
                  "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
                  "runpy.run_module('grader.autograde', run_name='__main__', alter_sys=True)", TARGET, "--jobs", "2"]
    process = subprocess.Popen(foreground, cwd=course.path, env=kernel.env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    timer = threading.Timer(COMMAND_TIMEOUT, process.kill)  # the bound on a hang, as above
    timer.start()
    try:
        lines = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("[1/"):  # one student graded: the others are being graded, or waiting
                os.killpg(process.pid, signal.SIGINT)
                break
        lines.append(process.stdout.read())
        status = process.wait()
    finally:
        timer.cancel()
    output = "".join(lines)
    assert status == 130, f"exit status {status}; output:\n{output}"
    assert "Traceback" not in output, output
    assert "while being graded; left as before the run" in output, output

    # Each student is fully graded (a complete submission and graded notebook) or not at all.
    db = course.path / "gradebook.db"
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert not db.with_name("gradebook.db-journal").exists()
    graded = scores(f"sqlite:///{db}")
    for student in CLASS:
        folder = course.path / "autograded" / student / TARGET
        if student in graded:
            assert graded[student] == EXPECTED[student], student
            assert (folder / f"{TARGET}.ipynb").is_file(), f"{student} has grades but no graded notebook"
        else:
            assert not folder.exists(), f"{student} has no grades but a graded folder: {list(folder.rglob('*'))}"
    assert "hang" not in graded, "the hanging student takes over 10 s: it cannot have finished"
    assert len(graded) < len(CLASS)
    assert leftover_processes(course, set(), children_before) == [], "the stop left processes running"

    done = run(course, TARGET, "--jobs", "2", env=kernel.env())
    assert done.returncode == 0, f"the re-run exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    assert scores(f"sqlite:///{db}") == EXPECTED
    assert "skipped" in done.stdout or len(graded) == 0, "without --force, the students graded before are skipped"


def _add_student_through_nbgrader(run_dir: Path, db_url: str, student: str) -> None:
    """A grader process of the run: nbgrader's own Gradebook, which joining the run makes a session."""
    from nbgrader.api import Gradebook

    from grader.guard import join_run

    join_run(run_dir)
    with Gradebook(db_url) as gradebook:
        gradebook.add_student(student)


def test_gradebook_writes_outside_the_runs_sessions_are_undone_and_reported(template, tmp_path):
    """No kernel: a write from outside the run (as a kernel would make it, where no sandbox stops
    it) is put back by the next session of any of the run's processes, whose own write is kept,
    and every guard of the run reports it."""
    course = copy_course(template, tmp_path / "course")
    db = course.path / "gradebook.db"
    run = GradingRun(tmp_path / "run")
    # The guard of a notebook of honest's, which the outside write is blamed on.
    with CourseGuard(course.path, db, [course.path / "autograded" / "honest" / TARGET], run=run) as guard:
        with sqlite3.connect(db) as connection:
            connection.execute("INSERT INTO student (id) VALUES ('mallory')")
        connection.close()
        worker = multiprocessing.get_context("spawn").Process(
            target=_add_student_through_nbgrader, args=(run.folder, f"sqlite:///{db}", "carol"))
        worker.start()
        worker.join(COMMAND_TIMEOUT)
        assert worker.exitcode == 0
        changes = guard.check_and_restore()
    with sqlite3.connect(db) as connection:
        students = [row[0] for row in connection.execute("SELECT id FROM student ORDER BY id")]
    connection.close()
    assert students == ["carol"], "the outside write was kept, or the grader's was lost"
    assert changes == [f"gradebook.db was changed (put back) while autograded/honest/{TARGET} was being graded"]


# --- bad input --------------------------------------------------------------------------------------------


def refuse(course: Path, args: list[str], capsys, monkeypatch) -> str:
    """Run the command in this process; it must exit 2, with one-line messages, having changed nothing."""
    before = tree_digest(course)
    monkeypatch.chdir(course)
    status = autograde.main(args)
    captured = capsys.readouterr()
    assert status == 2, f"exit status {status}:\n{captured.out}\n{captured.err}"
    assert captured.out == "", captured.out
    assert "Traceback" not in captured.err
    assert all(line.startswith("error: ") for line in captured.err.splitlines()), captured.err
    assert tree_digest(course) == before, "refusing bad input changed the course"
    return captured.err


def test_bad_input_is_refused_with_a_message(template, tmp_path, capsys, monkeypatch):
    course = copy_course(template, tmp_path / "course").path

    said = refuse(course, ["nope"], capsys, monkeypatch)
    assert "unknown assignment 'nope': the assignments in source/ are target" in said
    assert "give the assignment first" in refuse(course, ["--jobs", "2"], capsys, monkeypatch)
    assert "--jobs must be 1 or more" in refuse(course, [TARGET, "--jobs", "0"], capsys, monkeypatch)
    assert "in memory" in refuse(course, [TARGET, "--db", "sqlite://"], capsys, monkeypatch)

    # The submissions' layout, and notebooks that are not notebooks: every problem, one line each.
    submitted = course / "submitted"
    (submitted / "alice").mkdir()
    shutil.copy(submitted / "honest" / TARGET / f"{TARGET}.ipynb", submitted / "alice" / f"{TARGET}.ipynb")
    (submitted / "bob" / TARGET).mkdir(parents=True)
    shutil.copy(submitted / "honest" / TARGET / f"{TARGET}.ipynb", submitted / "bob" / TARGET / "Copy1.ipynb")
    (submitted / "carol" / TARGET).mkdir(parents=True)
    (submitted / "carol" / TARGET / f"{TARGET}.ipynb").write_text("this is not JSON")
    (submitted / "dave" / TARGET).mkdir(parents=True)
    (submitted / "dave" / TARGET / f"{TARGET}.ipynb").write_text(json.dumps({"cells": 5}))
    said = refuse(course, [TARGET], capsys, monkeypatch).splitlines()
    assert len(said) == 4, said
    assert said[0] == (f"error: submitted/alice/{TARGET}.ipynb is not in an assignment folder: move it to "
                       f"submitted/alice/{TARGET}/{TARGET}.ipynb")
    assert said[1] == (f"error: submitted/bob/{TARGET}/ has no {TARGET}.ipynb but Copy1.ipynb: rename the student's "
                       f"notebook to {TARGET}.ipynb")
    assert said[2].startswith(f"error: submitted/carol/{TARGET}/{TARGET}.ipynb is not a notebook: it is not JSON")
    assert said[3].startswith(f"error: submitted/dave/{TARGET}/{TARGET}.ipynb is not a valid notebook")
    for name in ("alice", "bob", "carol", "dave"):
        shutil.rmtree(submitted / name)

    shutil.rmtree(submitted)
    assert "no submissions" in refuse(course, [TARGET], capsys, monkeypatch)
    (course / "gradebook.db").unlink()
    assert "there is no gradebook at gradebook.db: run `nbgrader generate_assignment target`" in refuse(
        course, [TARGET], capsys, monkeypatch)
    assert "has no nbgrader_config.py" in refuse(tmp_path, [TARGET], capsys, monkeypatch)


def test_run_py_refuses_an_unknown_assignment():
    """Through run.py, as a user types it: status 2 and one line, no traceback."""
    done = subprocess.run([sys.executable, str(support.ROOT / "run.py"), "autograde", "no_such_assignment"],
                          capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    assert done.returncode == 2, done
    assert done.stderr.startswith("error: unknown assignment 'no_such_assignment': the assignments in source/ are "
                                  + ", ".join(support.assignments())), done.stderr
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr


def test_benchmark_runs():
    """The benchmark grades a small class both ways and finds the same results (its timings
    are for an idle machine, and not checked here)."""
    script = support.ROOT / "benchmarks" / "parallel_autograde.py"
    done = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-3000:]}"
    assert "ratio (sequential / parallel)" in done.stdout and "results identical" in done.stdout, done.stdout
