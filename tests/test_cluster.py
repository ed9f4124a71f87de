"""Grading a class on a Dask cluster (`run.py autograde --scheduler`), into PostgreSQL and
SQLite gradebooks: the results of plain sequential `nbgrader autograde`, with a worker killed
in the middle of a notebook; a scheduler lost in the middle of a run, then a second run
grading only what is missing; and the refusals of what cannot work.

The cluster is real: a `dask scheduler` and `dask worker` processes on 127.0.0.1, started by
the test with working folders of their own (support.dask_cluster). PostgreSQL is the server
`.ci/run` started, else a private one started here (support.postgres); without either, the
PostgreSQL tests fail and say what to install. The class is test_classgrade's: the tiny
"target" assignment handed in by honest, wrong, blank, hanging and crashing students.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from filelock import FileLock

import support
from grader import autograde
from grader.summary import grades_of
from support import TARGET
from support.dask_cluster import DaskCluster, dask_cluster
from support.postgres import new_database, server

# A bound on a whole command, so that a hang fails the test instead of stalling the suite.
# The class takes about 15 s on a cluster of two idle workers (the hanging student waits out
# its test's 10 s bound); beside the rest of the suite it can take several times longer.
COMMAND_TIMEOUT = 300


@pytest.fixture(scope="module")
def kernel(kernel_factory):
    return kernel_factory(support.ANSWERS_PYTHONS[0], support.ANSWERS_METHODS[0])


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated target course with the class handed in."""
    path = tmp_path_factory.mktemp("cluster") / "course"
    support.submit_class(support.make_course(path, TARGET), TARGET, support.TARGET_CLASS)
    return path


def graded_notes(course: Path, student: str) -> dict[str, Any]:
    """What the hardened grader wrote into the graded notebook, without its timings."""
    nb = json.loads((course / "autograded" / student / TARGET / f"{TARGET}.ipynb").read_text())
    info = nb["metadata"].get("course_grading", {})
    return {key: info.get(key) for key in ("flags", "notes", "restarts")}


def results(course: Path, db_url: str) -> dict[str, Any]:
    """Every grade, review flag and comment of the gradebook, and the grader's notes, as JSON."""
    grades = json.loads(json.dumps(grades_of(db_url, TARGET)))
    return {"grades": grades, "notes": {student: graded_notes(course, student) for student in grades}}


@pytest.fixture(scope="module")
def sequential(template, kernel, tmp_path_factory, worker_id) -> dict[str, Any]:
    """Plain sequential `nbgrader autograde` of the class: graded once per test run, by
    whichever test worker needs it first (the others read what it found)."""
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    found = shared / "cluster-sequential.json"
    with FileLock(str(found) + ".lock"):
        if not found.is_file():
            course = support.Course.create(tmp_path_factory.mktemp("sequential") / "course", TARGET,
                                           template=template)
            course.autograde(TARGET, kernel)
            found.write_text(json.dumps(results(course.path, f"sqlite:///{course.path / 'gradebook.db'}")))
        return json.loads(found.read_text())


@pytest.fixture(scope="session")
def postgres_server():
    try:
        with server() as url:
            yield url
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "grader.autograde", *args]


def copy_course(template: Path, path: Path) -> support.Course:
    return support.Course.create(path, TARGET, template=template)


def worker_grading(cluster: DaskCluster, student: str) -> psutil.Process | None:
    """The worker process whose notebook of ``student`` is running now (a kernel of its
    works in that student's graded folder of a scratch course)."""
    for worker in cluster.workers:
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(worker.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if f"/autograded/{student}/" in child.cwd() + "/":
                        return psutil.Process(worker.pid)
    return None


def test_cluster_into_postgresql_with_a_worker_killed_equals_sequential(template, kernel, sequential,
                                                                        postgres_server, tmp_path):
    course = copy_course(template, tmp_path / "course")
    db = new_database(postgres_server)
    course.nbgrader("generate_assignment", TARGET, "--force", f"--db={db}")
    with dask_cluster(tmp_path / "dask", workers=2, env=kernel.env()) as cluster:
        process = subprocess.Popen(command(TARGET, "--scheduler", cluster.address, f"--db={db}"), cwd=course.path,
                                   env=kernel.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            # The hanging student's notebook runs for over 10 s: its worker is killed in the middle.
            deadline = time.monotonic() + COMMAND_TIMEOUT
            victim = None
            while victim is None and time.monotonic() < deadline and process.poll() is None:
                victim = worker_grading(cluster, "hang")
                time.sleep(0.1)
            assert victim is not None, "no worker was seen grading the hanging student"
            victim.kill()
            output, _ = process.communicate(timeout=COMMAND_TIMEOUT)
        finally:
            process.kill()
    assert process.returncode == 0, f"exit status {process.returncode}:\n{output}"
    assert results(course.path, db) == sequential, "the cluster's grades, flags, comments or notes differ"
    assert output.count("] hang: ") == 1, f"the regraded student was not written exactly once:\n{output}"
    assert grades_of(f"sqlite:///{course.path / 'gradebook.db'}", TARGET) == {}, "grades went to the default gradebook"


def test_scheduler_lost_mid_run_then_a_second_run_grades_only_the_rest(template, kernel, sequential, tmp_path):
    course = copy_course(template, tmp_path / "course")
    db = f"sqlite:///{course.path / 'gradebook.db'}"
    with dask_cluster(tmp_path / "first", workers=2, env=kernel.env()) as cluster:
        process = subprocess.Popen(command(TARGET, "--scheduler", cluster.address), cwd=course.path,
                                   env=kernel.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        timer = threading.Timer(COMMAND_TIMEOUT, process.kill)  # the bound on a hang, as above
        timer.start()
        try:
            lines = []
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                if line.startswith("[1/"):  # one student written; the hanging one is still being graded
                    assert cluster.scheduler is not None
                    os.kill(cluster.scheduler.pid, signal.SIGKILL)
                    break
            lines.append(process.stdout.read())
            status = process.wait()
        finally:
            timer.cancel()
    output = "".join(lines)
    assert status == 1, f"exit status {status}:\n{output}"
    assert f"the connection to the Dask scheduler at {cluster.address} was lost" in output, output
    assert "Traceback" not in output, output
    # Each student is written in full, or not at all.
    first = results(course.path, db)
    assert 1 <= len(first["grades"]) < len(support.TARGET_CLASS), output
    assert "hang" not in first["grades"], "the hanging student takes over 10 s: it cannot have been written"
    for student, grades in first["grades"].items():
        assert grades == sequential["grades"][student], student
        assert first["notes"][student] == sequential["notes"][student], student
    for student in set(support.TARGET_CLASS) - set(first["grades"]):
        assert not (course.path / "autograded" / student).exists(), f"{student} has a graded folder but no grades"

    with dask_cluster(tmp_path / "second", workers=1, env=kernel.env()) as cluster:
        done = subprocess.run(command(TARGET, "--scheduler", cluster.address), cwd=course.path, env=kernel.env(),
                              capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    assert done.returncode == 0, f"the second run exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    assert results(course.path, db) == sequential
    assert done.stdout.count("skipped: graded before") == len(first["grades"]), done.stdout


def refuse(course: Path, args: list[str], capsys, monkeypatch) -> str:
    """Run the command in this process: exit status 2 and one line, nothing graded."""
    monkeypatch.chdir(course)
    status = autograde.main(args)
    captured = capsys.readouterr()
    assert status == 2, f"exit status {status}:\n{captured.out}\n{captured.err}"
    assert "Traceback" not in captured.err and len(captured.err.splitlines()) == 1, captured.err
    assert not (course / "autograded").exists() or not any((course / "autograded").iterdir())
    return captured.err


def test_refusals(template, postgres_server, tmp_path, capsys, monkeypatch):
    from grader.database import coordinator_lock

    course = copy_course(template, tmp_path / "course").path
    with socket_closed() as port:
        said = refuse(course, [TARGET, "--scheduler", f"tcp://127.0.0.1:{port}"], capsys, monkeypatch)
        assert f"error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in said
        said = refuse(course, [TARGET, f"--db=postgresql://postgres@127.0.0.1:{port}/gradebook"], capsys, monkeypatch)
        assert f"error: cannot open the gradebook postgresql://postgres@127.0.0.1:{port}/gradebook" in said
    assert "--jobs is for grading on this machine" in refuse(
        course, [TARGET, "--jobs", "2", "--scheduler", "tcp://127.0.0.1:8786"], capsys, monkeypatch)
    assert "is not a database URL" in refuse(course, [TARGET, "--db", "gradebook"], capsys, monkeypatch)
    # Two coordinators on one PostgreSQL gradebook, as two machines would name it: the second
    # refuses (before it looks into the gradebook, which may stay empty here).
    db = new_database(postgres_server)
    with coordinator_lock(db, None, "processes-and-threads"):
        elsewhere = db.replace("@127.0.0.1:", "@localhost:")
        said = refuse(course, [TARGET, f"--db={elsewhere}"], capsys, monkeypatch)
    assert "another `run.py autograde` is grading into this gradebook" in said


@contextlib.contextmanager
def socket_closed():
    """A port on 127.0.0.1 where nothing listens."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield port


def test_a_gradebook_that_stops_answering_leaves_the_student_as_before(tmp_path):
    """The coordinator's write of one student when the database is gone: DatabaseLost, and the
    student's graded folder as it was (no connection is made to a real gradebook here)."""
    from grader.database import DatabaseLost
    from grader.guard import GradingRun, leave_run
    from grader.plan import Settings
    from grader.task import Outcome
    from grader.writer import Writer

    with socket_closed() as port:
        settings = Settings(root=tmp_path, assignment=TARGET, nbgrader_args=(), course_id="c",
                            db_url=f"postgresql://postgres@127.0.0.1:{port}/gradebook", source=tmp_path / "source",
                            submitted=tmp_path / "submitted", autograded=tmp_path / "autograded",
                            student_pattern="*", excluded=frozenset())
        graded = settings.graded_folder("alice")
        graded.mkdir(parents=True)
        (graded / f"{TARGET}.ipynb").write_text("graded before")
        outcome = Outcome("alice", "graded", graded={f"{TARGET}.ipynb": (0o444, b"graded now")})
        try:
            with pytest.raises(DatabaseLost, match="stopped answering while alice was written"):
                Writer(settings, GradingRun(tmp_path / "run")).write(outcome)
        finally:
            leave_run()
    assert sorted(p.name for p in graded.parent.iterdir()) == [TARGET], "a side folder was left"
    assert (graded / f"{TARGET}.ipynb").read_text() == "graded before"
