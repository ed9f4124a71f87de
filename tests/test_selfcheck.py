"""The self-check (grader.selfcheck, `python3 run.py check`): the reference answers
get full marks and the blank release notebook 0, with each failed test's message; the
learner's notebook, the course's gradebook and autograded/ are left as they were; bad input
is refused with a message, having done nothing.

It grades 01_processes, the cheapest real assignment, in this process (as the command
does), with the kernel the answer corpus uses.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

import support
from grader import selfcheck

ASSIGNMENT = "01_processes"


def digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def course_state() -> tuple:
    """What the self-check must not change in the course: its gradebook and autograded/."""
    autograded = support.ROOT / "autograded"
    return (digest(support.ROOT / "gradebook.db"),
            sorted(str(p.relative_to(autograded)) for p in autograded.rglob("*")) if autograded.is_dir() else None)


@pytest.fixture
def kernel_env(kernel_factory):
    kernel = kernel_factory(support.ANSWERS_PYTHONS[0], support.ANSWERS_METHODS[0])
    with mock.patch.dict(os.environ, kernel.env(), clear=True):
        yield


def check(notebook: Path | None, feedback: Path) -> tuple[selfcheck.SelfCheckReport, str]:
    """Self-check ``notebook``; return the report and what it prints, having checked that the
    notebook (read, never written) and the course are unchanged."""
    learner = notebook or support.release_notebook(ASSIGNMENT)
    before = digest(learner), course_state()
    report = selfcheck.self_check(ASSIGNMENT, notebook, course=support.ROOT, feedback_dir=feedback)
    assert (digest(learner), course_state()) == before, \
        "the self-check changed the notebook, the gradebook or autograded/"
    return report, report.text(support.ROOT)


def test_reference_answers_get_full_marks(kernel_env, tmp_path):
    learner = tmp_path / "my work" / "01_processes.ipynb"  # wherever the learner keeps it
    learner.parent.mkdir()
    shutil.copy(support.source_notebook(ASSIGNMENT), learner)
    report, text = check(learner, tmp_path / "feedback")

    source = support.read(support.source_notebook(ASSIGNMENT))
    assert {e.name: [t.grade_id for t in e.tests] for e in report.exercises} == support.exercises(source)
    lost = {t.grade_id: t.failure for e in report.exercises for t in e.tests if t.score != t.max_score}
    assert lost == {}, f"the reference answers lost points: {lost}"
    assert report.score == report.max_score == sum(c.metadata.nbgrader["points"] for c in support.test_cells(source))
    total = next(line for line in text.splitlines() if line.startswith("total"))
    assert total.split() == ["total", f"{report.score:g}", "/", f"{report.max_score:g}"], text
    for exercise in report.exercises:
        assert exercise.name in text
    assert report.feedback == tmp_path / "feedback" / f"{ASSIGNMENT}.html"
    page = report.feedback.read_text()
    assert "<html" in page and "test_countdown" in page, "the feedback page is not nbgrader's feedback"


def test_blank_release_notebook_gets_zero_with_each_failure(kernel_env, tmp_path):
    report, text = check(None, tmp_path / "feedback")  # the default: release/01_processes/01_processes.ipynb
    assert report.notebook == support.release_notebook(ASSIGNMENT)
    assert report.score == 0 and report.max_score > 0
    for exercise in report.exercises:
        for test in exercise.tests:
            assert test.score == 0 and test.failure, f"{test.grade_id}: {test}"
            assert f"{test.grade_id}" in text and test.failure in text
    assert "NotImplementedError: not answered yet" in text
    assert report.feedback.is_file()


# --- bad input ------------------------------------------------------------------------------------


def refuse(args: list[str], capsys, monkeypatch) -> str:
    monkeypatch.chdir(support.ROOT)
    before = course_state()
    status = selfcheck.main(args)
    captured = capsys.readouterr()
    assert status == 2, f"exit status {status}:\n{captured.out}\n{captured.err}"
    assert captured.out == "" and "Traceback" not in captured.err, captured
    assert len(captured.err.splitlines()) == 1 and captured.err.startswith("error: "), captured.err
    assert course_state() == before
    return captured.err


def test_bad_input_is_refused_with_a_message(tmp_path, capsys, monkeypatch):
    said = refuse(["nope"], capsys, monkeypatch)
    assert said.startswith("error: unknown assignment 'nope': the assignments are " + ", ".join(support.assignments()))
    assert "there is no notebook at" in refuse([ASSIGNMENT, str(tmp_path / "missing.ipynb")], capsys, monkeypatch)
    assert "is a folder" in refuse([ASSIGNMENT, str(tmp_path)], capsys, monkeypatch)
    not_json = tmp_path / "not_json.ipynb"
    not_json.write_text("{ this is not JSON")
    assert "is not a notebook: it is not JSON" in refuse([ASSIGNMENT, str(not_json)], capsys, monkeypatch)
    not_notebook = tmp_path / "not_notebook.ipynb"
    not_notebook.write_text(json.dumps({"hello": "world"}))
    assert "is not a valid notebook" in refuse([ASSIGNMENT, str(not_notebook)], capsys, monkeypatch)
    other = support.release_notebook("04_threads")
    said = refuse([ASSIGNMENT, str(other)], capsys, monkeypatch)
    assert "is not a notebook of 01_processes: it looks like 04_threads's notebook" in said
    assert "give an assignment" in refuse([], capsys, monkeypatch)
    for path in (not_json, not_notebook):
        assert path.read_text() in ("{ this is not JSON", json.dumps({"hello": "world"}))


def test_run_py_check_refuses_an_unknown_assignment():
    done = subprocess.run([sys.executable, str(support.ROOT / "run.py"), "check", "no_such_assignment"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done
    assert done.stderr.startswith("error: unknown assignment 'no_such_assignment'"), done.stderr
    assert len(done.stderr.splitlines()) == 1
