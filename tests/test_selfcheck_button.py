"""The "Check my answers" button (course.checkbutton) that ends each notebook, driven as a
student drives it but without a kernel: constructed as the last cell constructs it, clicked
through its handler, and read from its widgets.

One test grades for real (01_processes, the cheapest assignment, with one wrong answer);
the others need no grading: the notebook's last cell, the ``--json`` output the button reads,
a course without its hidden tests, nbgrader's executions (nothing shown or started), and
which notebook the button grades.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import types
from html.parser import HTMLParser
from pathlib import Path
from unittest import mock

import nbformat
import pytest

import support
from course import checkbutton
from grader import selfcheck

ASSIGNMENT = "01_processes"
WAIT = 300  # seconds: a check takes 15-30 s alone, longer on a loaded machine


class Rows(HTMLParser):
    """The rows of the result's table, as (class, [cell texts])."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append((dict(attrs).get("class") or "", []))
        elif tag == "td":
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1][1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def shown_rows(markup: str) -> list[tuple[str, list[str]]]:
    parser = Rows()
    parser.feed(markup)
    return parser.rows


def make_course(folder: Path, notebook: nbformat.NotebookNode, hidden_tests: bool = True) -> Path:
    """A course as a self-learner has it: the config, source/ (unless ``hidden_tests`` is
    False: a class that received only release/) and the learner's notebook in release/."""
    folder.mkdir(parents=True)
    shutil.copy(support.ROOT / "nbgrader_config.py", folder)
    if hidden_tests:
        (folder / "source" / ASSIGNMENT).mkdir(parents=True)
        shutil.copy(support.source_notebook(ASSIGNMENT), folder / "source" / ASSIGNMENT)
    learner = folder / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    learner.parent.mkdir(parents=True)
    nbformat.write(notebook, learner)
    return learner


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the notebooks' last cell ------------------------------------------------------------------


def test_each_notebook_ends_with_the_button(assignment):
    """Source and release: the last cell is an ordinary code cell (no nbgrader metadata, so
    the grader treats it as a demonstration) that shows this assignment's button, after
    "Key points", the glossary (中英术语表) where the notebook has one, and a one-line markdown
    cell that says to save first."""
    for path in (support.source_notebook(assignment), support.release_notebook(assignment)):
        cells = support.read(path).cells
        *_, before, intro, button = cells
        if before.source.startswith("## 中英术语表"):
            assert before.cell_type == "markdown" and "| 中文 |" in before.source, path
            before = cells[-4]
        key_points = before
        assert key_points.cell_type == "markdown" and key_points.source.startswith("## Key points"), path
        assert intro.cell_type == "markdown" and "\n" not in intro.source.strip(), path
        assert "Ctrl-S" in intro.source and "**Check my answers**" in intro.source, path
        assert button.cell_type == "code" and "nbgrader" not in button.metadata, path
        assert button.source == f'from course.checkbutton import check_button\n\ncheck_button("{assignment}")', path
        assert not button.outputs and button.execution_count is None, path


# --- what the button reads: `python -m grader.selfcheck --json` -------------------------------------


def test_json_option_prints_the_report_alone(monkeypatch, tmp_path, capsys):
    """--json prints one line of JSON on standard output, nothing else (what grading prints
    goes to standard error), holding the report's numbers and the text `run.py check` prints."""
    feedback = tmp_path / "01_processes.html"
    failure = "AssertionError: usable_cpus() returned 64; expected 2\n(the CPUs this process may use)"
    report = selfcheck.SelfCheckReport(
        ASSIGNMENT, support.release_notebook(ASSIGNMENT),
        (selfcheck.ExerciseResult("usable_cpus", (selfcheck.TestResult("test_usable_cpus", 0.0, 2.0, failure),)),
         selfcheck.ExerciseResult("run_all", (selfcheck.TestResult("test_run_all", 2.0, 2.0),
                                              selfcheck.TestResult("test_run_all_concurrency", 1.0, 1.0)))),
        feedback, ("a note from the grader",))

    def fake_self_check(*args, **kwargs):
        print("what nbgrader says while it grades")  # must not reach standard output
        return report

    monkeypatch.chdir(support.ROOT)
    monkeypatch.setattr(selfcheck, "self_check", fake_self_check)
    out = io.StringIO()
    assert selfcheck.main(["--json", ASSIGNMENT], out=out) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "what nbgrader says" in captured.err, captured
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, lines
    shown = json.loads(lines[0])
    assert shown == selfcheck.report_json(report, support.ROOT)
    assert shown["score"] == 3 and shown["max_score"] == 5
    assert [(e["name"], e["score"], e["max_score"]) for e in shown["exercises"]] == [("usable_cpus", 0, 2),
                                                                                      ("run_all", 3, 3)]
    assert shown["exercises"][0]["tests"] == [{"grade_id": "test_usable_cpus", "score": 0.0, "max_score": 2.0,
                                               "failure": failure}]
    assert shown["notes"] == ["a note from the grader"] and shown["feedback"] == str(feedback)

    # `text` is exactly what the command prints without --json.
    out = io.StringIO()
    assert selfcheck.main([ASSIGNMENT], out=out) == 0
    printed = out.getvalue().split("\n", 1)[1]  # after "Checking 01_processes ..."
    assert printed.rstrip("\n") == shown["text"] == report.text(support.ROOT)

    # The button shows each exercise and test with its points, and each failure in full.
    rows = shown_rows(checkbutton.report_html(shown))
    assert rows == [("exercise", ["usable_cpus", "0 / 2", ""]),
                    ("test", ["test_usable_cpus", "0 / 2", failure]),
                    ("exercise", ["run_all", "3 / 3", ""]),
                    ("test", ["test_run_all", "2 / 2", ""]),
                    ("test", ["test_run_all_concurrency", "1 / 1", ""]),
                    ("total", ["total", "3 / 5", ""])]
    assert "a note from the grader" in checkbutton.report_html(shown)


# --- one real check ------------------------------------------------------------------------------


@pytest.fixture
def kernel_env(kernel_factory):
    """The kernel the answer corpus is graded with, for the check the button starts."""
    kernel = kernel_factory(support.ANSWERS_PYTHONS[0], support.ANSWERS_METHODS[0])
    with mock.patch.dict(os.environ, kernel.env(), clear=True):
        os.environ.pop("NBGRADER_EXECUTION", None)
        yield


def test_button_grades_the_saved_notebook(kernel_env, tmp_path, monkeypatch):
    """A learner's notebook with one wrong answer: the button says when it was saved, a
    second click while it checks does nothing, the progress bar and elapsed time show, and
    the result shows the points of every exercise and test and what the failed test said,
    row for row what `run.py check` prints."""
    wrong = next(a for a in support.load_answers(ASSIGNMENT)["usable_cpus"] if a.name == "wrong_cpu_count")
    learner = make_course(tmp_path / "course", support.student_notebook(ASSIGNMENT, [wrong]))
    saved_at = time.time() - 600
    os.utime(learner, (saved_at, saved_at))
    before = digest(learner)
    monkeypatch.setenv("JPY_SESSION_NAME", str(learner))  # as JupyterLab sets it for the kernel
    monkeypatch.chdir(tmp_path)  # not the notebook's folder: the session name decides

    button = checkbutton.check_button(ASSIGNMENT)
    assert isinstance(button, checkbutton.CheckButton)
    assert button.notebook == learner.resolve() and button.course.root == (tmp_path / "course").resolve()
    assert "Ctrl-S" in button.saved.value
    assert f"was last saved at <b>{time.strftime('%H:%M:%S', time.localtime(saved_at))}</b> (10 min before you " \
           "ran this cell)" in button.saved.value, button.saved.value
    assert not button.button.disabled and button.output.value == ""

    threads = threading.active_count()
    started = time.monotonic()
    button.click()
    assert button.running and button.button.disabled
    assert button.progress.layout.display == "" and button.elapsed.value.startswith("checking")
    thread = button._thread
    button.click()  # a second click while it runs
    assert button._thread is thread and threading.active_count() == threads + 1
    assert "already running" in button.elapsed.value
    assert "(10 min before you pressed the button)" in button.saved.value, button.saved.value
    time.sleep(1.5)
    assert re.fullmatch(r"checking\.\.\. \d+ s .*", button.elapsed.value), button.elapsed.value
    assert 0 < button.progress.value < button.progress.max

    result = button.wait(WAIT)
    seconds = time.monotonic() - started
    print(f"one check of {ASSIGNMENT} from the button: {seconds:.1f} s")
    assert not button.running, f"no result within {WAIT} s"
    assert button.error is None and result is not None, button.output.value
    assert not button.button.disabled and button.progress.bar_style == "success"
    assert button.elapsed.value == f"checked in {button.seconds:.0f} s"
    assert digest(learner) == before, "the check changed the learner's notebook"
    assert Path(result["feedback"]) == tmp_path / "course" / "feedback" / "self-check" / f"{ASSIGNMENT}.html"
    assert Path(result["feedback"]).is_file()

    # The wrong answer loses its exercise's points, with the test's message; the key gets the rest.
    scores = {e["name"]: (e["score"], e["max_score"]) for e in result["exercises"]}
    assert list(scores) == list(support.exercises(support.read(support.source_notebook(ASSIGNMENT))))
    lost = {e["name"] for e in result["exercises"] if e["score"] != e["max_score"]}
    assert lost == {"usable_cpus"}, scores
    failures = [t["failure"] for e in result["exercises"] for t in e["tests"] if t["failure"]]
    assert failures and all(t["failure"] for t in result["exercises"][list(scores).index("usable_cpus")]["tests"]
                            if t["score"] < t["max_score"])
    assert result["score"] == 10 - scores["usable_cpus"][1] + scores["usable_cpus"][0]

    # What the button shows is what `run.py check` prints (result["text"]), row for row.
    rows = shown_rows(button.output.value)
    assert [kind for kind, _ in rows] == [
        kind for e in result["exercises"] for kind in ["exercise"] + ["test"] * len(e["tests"])] + ["total"]
    printed = result["text"].splitlines()
    for _kind, (name, points, failure) in rows:
        first = failure.splitlines()[0] if failure else ""
        line = re.compile(rf"^\s*{re.escape(name)}\s+{re.escape(points)}(\s+{re.escape(first)})?$")
        assert any(line.match(text) and (not first or first in text) for text in printed), (
            f"the button shows {name} {points} {first!r}; run.py check prints:\n{result['text']}")
    assert f"<code>feedback/self-check/{ASSIGNMENT}.html</code>" in button.output.value  # as run.py check says it
    assert f"<code>release/{ASSIGNMENT}/{ASSIGNMENT}.ipynb</code>" in button.output.value
    assert result["notes"] == [], "the grader noted something about an honest notebook that ends with the button"


# --- no hidden tests, no grading -------------------------------------------------------------------


def test_without_hidden_tests_it_points_to_validate(tmp_path, monkeypatch):
    """A class that received only release/: the button says the hidden tests are not here,
    points to Validate, and starts nothing when clicked; so without any course folder."""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    with_config = make_course(tmp_path / "class", support.read(support.release_notebook(ASSIGNMENT)),
                              hidden_tests=False)
    alone = tmp_path / "downloads" / f"{ASSIGNMENT}.ipynb"
    alone.parent.mkdir()
    shutil.copy(support.release_notebook(ASSIGNMENT), alone)
    for learner, root in ((with_config, (tmp_path / "class").resolve()), (alone, None)):
        monkeypatch.chdir(learner.parent)  # the kernel's working folder: the notebook's
        button = checkbutton.check_button(ASSIGNMENT)
        assert button is not None and button.notebook == learner.resolve()
        assert button.course == checkbutton.Course(root, None)
        assert button.button.disabled
        for shown in (button.output.value, (button.click(), button.output.value)[1]):
            assert "hidden tests of 01_processes are not here" in shown, shown
            assert "<b>Validate</b>" in shown and f"nbgrader validate {ASSIGNMENT}.ipynb" in shown, shown
        assert button._thread is None and not button.running and button.result is None


def test_a_refused_notebook_shows_why(tmp_path, monkeypatch):
    """A notebook of another assignment under 01_processes's name: the check is refused
    (before any grading) and the button shows the command's message."""
    learner = make_course(tmp_path / "course", support.read(support.release_notebook("04_threads")))
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    button = checkbutton.CheckButton(ASSIGNMENT, learner)
    button.click()
    assert button.wait(120) is None and not button.running
    assert button.error and re.search(r"is not a notebook of 01_processes: it has \d+ of 01_processes's \d+ graded "
                                      "cells; give the notebook you worked in", button.error), button.error
    assert button.output.value.startswith("<b>Could not check the notebook:</b>")
    assert "is not a notebook of 01_processes" in button.output.value and "error:" not in button.output.value
    assert button.progress.bar_style == "danger" and not button.button.disabled


@pytest.mark.parametrize("execution", ["autograde", "validate"])
def test_under_nbgrader_the_cell_does_nothing(execution, tmp_path):
    """Under nbgrader the notebook's last cell, run in IPython, shows nothing, prints
    nothing, starts no thread and imports nothing but the button's module (no ipywidgets)."""
    cell = support.read(support.release_notebook(ASSIGNMENT)).cells[-1].source
    script = f"""
import json, sys, threading
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
shell = InteractiveShell.instance()
shell.run_cell("import course")  # what running any cell first imports, and the package (it was imported earlier)
threads, modules = threading.active_count(), set(sys.modules)
with capture_output() as captured:
    result = shell.run_cell({cell!r}, store_history=True)
print(json.dumps({{"error": repr(result.error_in_exec), "result": repr(result.result),
                  "stdout": captured.stdout, "stderr": captured.stderr, "outputs": len(captured.outputs),
                  "threads": threading.active_count() - threads, "new": sorted(set(sys.modules) - modules)}}))
"""
    env = dict(os.environ, NBGRADER_EXECUTION=execution, IPYTHONDIR=str(tmp_path / "ipython"))
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen == {"error": "None", "result": "None", "stdout": "", "stderr": "", "outputs": 0, "threads": 0,
                    "new": ["course.checkbutton"]}, seen


# --- which notebook -----------------------------------------------------------------------------------


def test_which_notebook(tmp_path, monkeypatch):
    """JupyterLab's JPY_SESSION_NAME when it names a file, else IPython's __session__, else
    <assignment>.ipynb in the working folder (the notebook's)."""
    mine = tmp_path / "work" / "my copy.ipynb"
    mine.parent.mkdir()
    mine.write_text("{}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JPY_SESSION_NAME", str(mine))
    assert checkbutton.notebook_path(ASSIGNMENT) == mine.resolve()
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "renamed since.ipynb"))  # no longer there
    assert checkbutton.notebook_path(ASSIGNMENT) == tmp_path.resolve() / f"{ASSIGNMENT}.ipynb"

    shell = types.SimpleNamespace(user_ns={"__session__": "work/my copy.ipynb"})  # relative: to the working folder
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    assert checkbutton.notebook_path(ASSIGNMENT) == mine.resolve()
