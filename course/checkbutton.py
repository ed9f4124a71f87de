"""The "Check my answers" button at the end of each notebook: grade the notebook's last
saved file with the hidden tests, as ``python3 run.py check`` does, without leaving JupyterLab.

The check runs ``python -m grader.selfcheck --json`` in a subprocess, from a background
thread, so the kernel stays free and this package imports nothing of the grader. Under
nbgrader (``NBGRADER_EXECUTION`` is set while it autogrades or validates) the button is not
shown and nothing is started or imported.
"""

from __future__ import annotations

# Only what the interpreter has loaded anyway: under nbgrader, importing this module must
# add nothing to a grading kernel but itself. The rest is imported where it is used.
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import threading

__all__ = ["CheckButton", "Course", "check_button", "find_course", "notebook_path", "report_html"]

EXPECTED_SECONDS = 30.0  # how long a check usually takes; the progress bar fills towards it
TIME_LIMIT = 600.0  # a check that takes longer than this is stopped


def check_button(assignment: str) -> CheckButton | None:
    """The "Check my answers" button for ``assignment``: show it as a cell's last expression.

    Under nbgrader (autograde or validate) this returns None: nothing is shown, started or imported.
    """
    if os.environ.get("NBGRADER_EXECUTION"):
        return None
    return CheckButton(assignment)


def notebook_path(assignment: str) -> Path:
    """The notebook this kernel runs for: the one JupyterLab names (``JPY_SESSION_NAME``, or
    IPython's ``__session__``) when it is a file, else ``<assignment>.ipynb`` in this folder."""
    candidates = [os.environ.get("JPY_SESSION_NAME", "")]
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        candidates.append(str(shell.user_ns.get("__session__", "")))
    for name in candidates:
        if name.endswith(".ipynb"):
            path = Path(name).expanduser()
            if not path.is_absolute():
                path = Path.cwd() / path
            if path.is_file():
                return path.resolve()
    return (Path.cwd() / f"{assignment}.ipynb").resolve()


class Course(NamedTuple):
    """Where a notebook's course is: its folder, and whether the hidden tests are there."""

    root: Path | None  # the folder with nbgrader_config.py, None when there is none above the notebook
    source: Path | None  # source/<assignment>/<assignment>.ipynb, None when it is not there


def find_course(notebook: Path, assignment: str) -> Course:
    """Walk up from ``notebook``'s folder to the course folder: the nearest one with
    ``nbgrader_config.py`` and ``source/<assignment>/<assignment>.ipynb`` (the hidden tests)."""
    first: Path | None = None
    start = notebook.resolve().parent
    for folder in (start, *start.parents):
        if (folder / "nbgrader_config.py").is_file():
            source = folder / "source" / assignment / f"{assignment}.ipynb"
            if source.is_file():
                return Course(folder, source)
            first = first or folder
    return Course(first, None)


def _saved_text(path: Path, now: str) -> str:
    """When ``path`` was last saved, as a student reads it; ``now`` says when this is shown
    ("you ran this cell"), for how long before it the file was saved."""
    import html
    import time

    try:
        mtime = path.stat().st_mtime
    except OSError:
        return f"<b>{html.escape(path.name)}</b> is not saved yet: save it first (Ctrl-S)."
    ago = max(0, int(time.time() - mtime))
    when = time.strftime("%H:%M:%S", time.localtime(mtime))
    if ago >= 86400:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(mtime))
    span = f"{ago} s" if ago < 120 else f"{ago // 60} min" if ago < 7200 else f"{ago // 3600} h"
    before = f" ({span} before {now})" if ago >= 60 else ""
    return f"<b>{html.escape(path.name)}</b> was last saved at <b>{when}</b>{before}."


class CheckButton:
    """A "Check my answers" button that grades the notebook's saved file with the hidden tests.

    Press it (or call :meth:`click`): it runs ``python -m grader.selfcheck --json`` in the
    background, shows a progress bar with the elapsed time, then the points of each
    exercise and what each failed test said. :meth:`wait` waits for the result, which is
    kept in :attr:`result` (the command's JSON report) or :attr:`error` (what went wrong).
    """

    def __init__(self, assignment: str, notebook: Path | None = None) -> None:
        import threading

        import ipywidgets as widgets  # type: ignore[import-untyped]  # here, not at import: course stays light

        self.assignment = assignment
        self.notebook = notebook_path(assignment) if notebook is None else Path(notebook).resolve()
        self.course = find_course(self.notebook, assignment)
        self.result: dict[str, Any] | None = None
        self.error: str | None = None
        self.seconds: float | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

        self.button = widgets.Button(description="Check my answers", button_style="primary", icon="check",
                                     tooltip="Grade the saved notebook with the hidden tests",
                                     layout=widgets.Layout(width="auto"))
        self.progress = widgets.FloatProgress(value=0.0, min=0.0, max=EXPECTED_SECONDS, bar_style="info",
                                              layout=widgets.Layout(display="none"))
        self.elapsed = widgets.Label(value="")
        self.saved = widgets.HTML(value="")
        self.output = widgets.HTML(value="")
        self.button.on_click(self._on_click)
        self.widget = widgets.VBox([self.saved, widgets.HBox([self.button, self.progress, self.elapsed]),
                                    self.output])
        if self.course.source is None:
            self.button.disabled = True
            self.output.value = self._no_hidden_tests()
        else:
            self.saved.value = self._save_first("you ran this cell")
        for widget, name in ((self.widget, "course-check"), (self.saved, "course-check-saved"),
                             (self.button, "course-check-button"), (self.progress, "course-check-progress"),
                             (self.elapsed, "course-check-elapsed"), (self.output, "course-check-output")):
            widget.add_class(name)  # for the browser tests, and for anyone who styles the notebook

    # --- what it shows ----------------------------------------------------------------------

    def _save_first(self, now: str) -> str:
        return (f"Save the notebook first (<b>Ctrl-S</b>): the check grades the file as last saved, "
                f"not what the kernel holds. {_saved_text(self.notebook, now)}")

    def _no_hidden_tests(self) -> str:
        import html

        return (f"<b>The hidden tests of {html.escape(self.assignment)} are not here</b>: this copy of the "
                f"course has no <code>source/{html.escape(self.assignment)}/{html.escape(self.assignment)}.ipynb"
                "</code>, so the button cannot grade your notebook as your instructor will. "
                "Use <b>Validate</b> in the notebook's toolbar (nbgrader) to run the tests you can see "
                f"(or <code>nbgrader validate {html.escape(self.notebook.name)}</code> in a terminal); "
                "your instructor grades with the hidden tests.")

    @property
    def running(self) -> bool:
        """True while a check runs."""
        return self._thread is not None and self._thread.is_alive()

    def click(self) -> None:
        """Press the button: start a check, unless one is running or the hidden tests are not here."""
        self._on_click(self.button)

    def wait(self, timeout: float | None = None) -> dict[str, Any] | None:
        """Wait for a running check to end; return its report (None if it failed, or still runs)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.result

    def _on_click(self, _button: Any) -> None:
        import threading

        with self._lock:
            if self.running:
                self.elapsed.value = "A check is already running: wait for its result."
                return
            if self.course.source is None:
                self.output.value = self._no_hidden_tests()
                return
            self.result, self.error, self.seconds = None, None, None
            self.saved.value = self._save_first("you pressed the button")
            self.button.disabled = True
            self.output.value = ""
            self.progress.value = 0.0
            self.progress.bar_style = "info"
            self.progress.layout.display = ""
            self.elapsed.value = "checking..."
            self._thread = threading.Thread(target=self._check, name=f"check {self.assignment}", daemon=True)
            self._thread.start()

    def _check(self) -> None:
        import subprocess
        import time

        started = time.monotonic()
        assert self.course.root is not None
        command = [sys.executable, "-m", "grader.selfcheck", "--json", self.assignment, str(self.notebook)]
        try:
            with subprocess.Popen(command, cwd=self.course.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, text=True, encoding="utf-8", errors="replace") as child:
                while True:
                    seconds = time.monotonic() - started
                    self._tick(seconds)
                    try:  # communicate() again after a timeout goes on collecting the output
                        out, err = child.communicate(timeout=0.5)
                        break
                    except subprocess.TimeoutExpired:
                        if seconds > TIME_LIMIT:
                            child.kill()
            self.seconds = time.monotonic() - started
            self._finish(child.returncode, out, err)
        except BaseException as error:  # a background thread has nowhere else to report
            self.seconds = time.monotonic() - started
            self._fail(f"the check could not run: {type(error).__name__}: {error}")
        finally:
            self.button.disabled = False

    def _tick(self, seconds: float) -> None:
        self.progress.value = min(seconds, 0.95 * EXPECTED_SECONDS)
        self.elapsed.value = f"checking... {seconds:.0f} s (a check takes 15–30 s)"

    def _finish(self, status: int | None, out: str, err: str) -> None:
        import json

        lines = [line for line in out.splitlines() if line.strip()]
        if status == 0 and lines:
            try:
                self.result = json.loads(lines[-1])
            except ValueError:
                self.result = None
        if self.result is None:
            if self.seconds is not None and self.seconds > TIME_LIMIT:
                message = f"the check took more than {TIME_LIMIT:.0f} s and was stopped"
            else:
                said = [line for line in err.splitlines() if line.strip()]
                message = "\n".join(said[-12:]) or f"the check ended with status {status} and said nothing"
                message = message.removeprefix("error: ")
            self._fail(message)
            return
        self.progress.value = self.progress.max
        self.progress.bar_style = "success"
        self.elapsed.value = f"checked in {self.seconds:.0f} s"
        self.output.value = report_html(self.result, self.course.root)

    def _fail(self, message: str) -> None:
        import html

        self.error = message
        self.progress.bar_style = "danger"
        self.elapsed.value = f"no result after {self.seconds or 0:.0f} s"
        hint = ""
        if "No module named" in message:
            hint = (" This kernel's Python lacks what grading needs: run <code>python3 run.py check "
                    f"{html.escape(self.assignment)}</code> in a terminal, from the course folder.")
        self.output.value = (f"<b>Could not check the notebook:</b><pre>{html.escape(message)}</pre>{hint}")

    # --- display ----------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def _points(score: float | None, max_score: float) -> str:
    return f"{'-' if score is None else format(score, 'g')} / {max_score:g}"


def report_html(report: dict[str, Any], root: Path | None = None) -> str:
    """The self-check's JSON report as HTML: points per exercise and per test, what each
    failed test said, the total, the grader's notes and where the feedback page is (paths
    inside the course folder ``root`` relative to it, as ``run.py check`` prints them)."""
    import html

    def shown(path: str) -> str:
        if root is not None and Path(path).is_relative_to(root):
            return html.escape(str(Path(path).relative_to(root)))
        return html.escape(path)

    green, red, grey = "#1b7a1b", "#b00020", "#666"
    cell = "padding:1px 10px;text-align:left;vertical-align:top;line-height:1.5"
    rows = []
    for exercise in report["exercises"]:
        score, most = exercise["score"], exercise["max_score"]
        colour = grey if score is None else green if score >= most else red
        note = ("graded by an instructor, not by tests (the README's instructor guide has the rubric)"
                if score is None else "")
        rows.append(f'<tr class="exercise"><td style="{cell}"><b>{html.escape(exercise["name"])}</b></td>'
                    f'<td style="{cell};white-space:nowrap;color:{colour}"><b>{_points(score, most)}</b></td>'
                    f'<td style="{cell};color:{grey}">{html.escape(note)}</td></tr>')
        if score is None:
            continue
        for test in exercise["tests"]:
            passed = test["score"] is not None and test["score"] >= test["max_score"]
            failure = html.escape(test["failure"]).replace("\n", "<br>")
            rows.append(f'<tr class="test"><td style="{cell};padding-left:28px">{html.escape(test["grade_id"])}</td>'
                        f'<td style="{cell};white-space:nowrap;color:{green if passed else red}">'
                        f'{_points(test["score"], test["max_score"])}</td>'
                        f'<td style="{cell};font-family:monospace;color:{red}">{failure}</td></tr>')
    rows.append(f'<tr class="total" style="border-top:1px solid #999"><td style="{cell}"><b>total</b></td>'
                f'<td style="{cell};white-space:nowrap"><b>{_points(report["score"], report["max_score"])}</b></td>'
                f'<td style="{cell}"></td></tr>')
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in report.get("notes", []))
    return ("<div class=\"course-check-result\" style=\"line-height:1.5\">"
            f"<p>Self-check of <b>{html.escape(report['assignment'])}</b>: "
            f"<code>{shown(report['notebook'])}</code><br>"
            "<span style=\"color:#666\">graded with the hidden tests in a scratch copy of the course: your notebook "
            "and the course's gradebook are unchanged</span></p>"
            f"<table style=\"border-collapse:collapse\">{''.join(rows)}</table>"
            + (f"<p>The grader noted:</p><ul>{notes}</ul>" if notes else "")
            + f"<p>Feedback, with the output of every test: <code>{shown(report['feedback'])}</code></p></div>")
