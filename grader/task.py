"""Grading one submission as a pure step: the assignment, the course's configuration and one
submission's files in; the graded folder and its gradebook entries out.

Data flow (one submission; the step runs on whichever machine, the coordinator writes)::

    coordinator --Bundle (once per run) + Task (per student), pickled--> grading process
    grading process: a scratch course in a temporary folder; plain `nbgrader autograde`
        (so the hardened grader, its limits and guards) into the scratch's own gradebook
    grading process --Outcome, pickled--> coordinator --(grader.writer)--> gradebook, autograded/

Nothing of the real course is read or written here: the step needs the course's environment
(this package, nbgrader, the kernel) and no shared filesystem.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import glob
import hashlib
import json
import os
import socket
import stat
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["Bundle", "Files", "NotebookRecord", "Outcome", "Prior", "Task", "error_reason", "forwarded",
           "grade", "grader_fingerprint", "read_prior", "read_tree", "write_tree"]

# A folder's files: relative POSIX path -> (permission bits, content).
Files = dict[str, tuple[int, bytes]]

# What a scratch course calls its folders (nbgrader's defaults), whatever the course's are.
SOURCE, SUBMITTED, AUTOGRADED = "source", "submitted", "autograded"

# Options of the command that describe the real course (its gradebook, its folders, whom to
# grade): the scratch course has its own. Everything else reaches nbgrader as given.
_COURSE_OPTIONS = ("--db", "--student", "--course-dir", "--assignment", "--CourseDirectory.db_url",
                   "--CourseDirectory.student_id", "--CourseDirectory.student_id_exclude",
                   "--CourseDirectory.root", "--CourseDirectory.source_directory",
                   "--CourseDirectory.submitted_directory", "--CourseDirectory.autograded_directory",
                   "--CourseDirectory.assignment_id")
_COURSE_FLAGS = ("--force", "-f")

# The last characters of a failed grading's nbgrader log that travel back, for the error's reason.
_LOG_TAIL = 20_000


def read_tree(folder: Path) -> Files:
    """Every file under ``folder``, with its permission bits (symbolic links are skipped:
    a submission's link would point at the machine it came from)."""
    found: Files = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found[path.relative_to(folder).as_posix()] = (stat.S_IMODE(path.stat().st_mode), path.read_bytes())
    return found


def write_tree(files: Files, folder: Path) -> None:
    """Write ``files`` under ``folder``, with their permission bits (after their content)."""
    folder.mkdir(parents=True, exist_ok=True)
    for relative, (mode, content) in files.items():
        if relative.startswith("/") or ".." in Path(relative).parts:
            raise ValueError(f"a file to write lies outside its folder: {relative!r}")
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.chmod(0o600)
            path.unlink()
        path.write_bytes(content)
        path.chmod(mode)


def forwarded(nbgrader_args: Sequence[str]) -> tuple[str, ...]:
    """The command's nbgrader options without those about the real course (see _COURSE_OPTIONS)."""
    kept: list[str] = []
    skip_value = False
    for arg in nbgrader_args:
        if skip_value:
            skip_value = False
            continue
        name = arg.split("=", 1)[0]
        if name in _COURSE_FLAGS:
            continue
        if name in _COURSE_OPTIONS:
            skip_value = "=" not in arg
            continue
        kept.append(arg)
    return tuple(kept)


_fingerprint: str | None = None


def grader_fingerprint() -> str:
    """A digest of this grader's code (``grader`` and ``grader_kernel``): a coordinator and a
    worker with different versions would grade differently."""
    global _fingerprint
    if _fingerprint is None:
        import grader
        import grader_kernel

        hasher = hashlib.sha256()
        for package in (grader, grader_kernel):
            folder = Path(package.__file__ or "").parent
            for path in sorted(folder.glob("*.py")):
                hasher.update(f"{package.__name__}/{path.name}\0".encode())
                hasher.update(path.read_bytes())
        _fingerprint = hasher.hexdigest()[:16]
    return _fingerprint


@dataclasses.dataclass(frozen=True)
class Prior:
    """A student's gradebook entries for the assignment before the run (what grading
    depends on besides the submission: manual scores, an extension)."""

    student_existed: bool
    submission: dict[str, Any] | None


def read_prior(gradebook: Any, assignment: str, student: str) -> Prior:
    from nbgrader.api import MissingEntry  # type: ignore[import-untyped]

    try:
        gradebook.find_student(student)
    except MissingEntry:
        return Prior(False, None)
    try:
        submission = gradebook.find_submission(assignment, student)
    except MissingEntry:
        return Prior(True, None)
    return Prior(True, {
        "timestamp": submission.timestamp,
        "extension": submission.extension,
        "notebooks": {nb.name: {
            "flagged": nb.flagged,
            "grades": {g.name: (g.manual_score, g.extra_credit) for g in nb.grades},
            "comments": {c.name: c.manual_comment for c in nb.comments},
        } for nb in submission.notebooks},
    })


def _seed_prior(gradebook: Any, assignment: str, student: str, prior: Prior) -> None:
    """Put the student's prior entries into the scratch gradebook, so that nbgrader decides
    as it would in the real one (a manual score makes a test need review again; an
    extension changes a late penalty)."""
    if not prior.student_existed:
        return
    gradebook.add_student(student)
    if prior.submission is None:
        return
    submission = gradebook.add_submission(assignment, student, timestamp=prior.submission["timestamp"],
                                          extension=prior.submission["extension"])
    for notebook in submission.notebooks:
        saved = prior.submission["notebooks"].get(notebook.name)
        if saved is None:
            continue
        notebook.flagged = saved["flagged"]
        for grade in notebook.grades:
            grade.manual_score, grade.extra_credit = saved["grades"].get(grade.name, (None, None))
        for comment in notebook.comments:
            comment.manual_comment = saved["comments"].get(comment.name)
    gradebook.db.commit()


@dataclasses.dataclass(frozen=True)
class Bundle:
    """What every submission of a run is graded with (made once by the coordinator)."""

    assignment: str
    course_id: str
    config: bytes  # the course's nbgrader_config.py
    source: Files  # source/<assignment>/
    gradebook: bytes  # an SQLite gradebook holding the assignment and no student
    nbgrader_args: tuple[str, ...]  # the command's other nbgrader options (see forwarded)
    course_root: str  # the course's folder on the coordinator's machine
    fingerprint: str  # the coordinator's grader_fingerprint()


@dataclasses.dataclass(frozen=True)
class Task:
    """One submission to grade."""

    student: str
    submission: Files  # submitted/<student>/<assignment>/
    prior: Prior


@dataclasses.dataclass(frozen=True)
class NotebookRecord:
    """What grading one notebook put into the gradebook, cell by cell: only the entries
    nbgrader sets (those it leaves alone are not here)."""

    grades: dict[str, tuple[float | None, bool]]  # grade_id -> (auto_score, needs_manual_grade)
    comments: dict[str, str | None]  # grade_id -> auto_comment
    late_penalty: tuple[float | None] | None = None  # (late_submission_penalty,) when nbgrader set it


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The result of grading one submission: status "graded" or "error" (``message`` says why)."""

    student: str
    status: str
    graded: Files = dataclasses.field(default_factory=dict)  # autograded/<student>/<assignment>/
    timestamp: datetime.datetime | None = None
    notebooks: dict[str, NotebookRecord] = dataclasses.field(default_factory=dict)
    flagged: bool = False
    seconds: float = 0.0
    message: str = ""
    worker: str = ""  # host:pid that graded it


def error_reason(log: str) -> str:
    """The line that says why nbgrader could not grade a student: the last line of the
    traceback it logged, else its first error."""
    lines = log.splitlines()
    errors = [i for i, line in enumerate(lines) if "| ERROR]" in line or "| CRITICAL]" in line]
    for i in errors:
        if lines[i].rstrip().endswith("Traceback (most recent call last):"):
            block = []
            for line in lines[i + 1:]:
                if line.startswith("["):
                    break
                if line.strip():
                    block.append(line.strip())
            if block:
                return block[-1][:300]
    for i in errors:
        message = lines[i].split("] ", 1)[-1].strip()
        if message and not message.startswith("There was an error processing"):
            return message[:300]
    return "nbgrader could not grade it (see the log above)" if lines else "nbgrader could not grade it"


# One notebook at a time per process: nbgrader's application is one per process, and the
# hardened grader's limits are per notebook. A worker given more threads runs them in turn.
_one_at_a_time = threading.Lock()


def grade(bundle: Bundle, task: Task) -> Outcome:
    """Grade ``task``'s submission with plain ``nbgrader autograde`` in a scratch course made
    from ``bundle``; return what the coordinator writes. Never raises for the submission's
    sake: a failure is an Outcome with status "error"."""
    with _one_at_a_time:
        started = time.monotonic()
        where = f"{socket.gethostname()}:{os.getpid()}"
        if bundle.fingerprint != grader_fingerprint():
            return Outcome(task.student, "error", worker=where, message=(
                f"the grading worker {where} has another version of the course's grader "
                f"({grader_fingerprint()}, the coordinator's is {bundle.fingerprint}): install the same course there"))
        outcome = _grade_in_scratch(bundle, task)
        return dataclasses.replace(outcome, seconds=round(time.monotonic() - started, 2), worker=where)


def _grade_in_scratch(bundle: Bundle, task: Task) -> Outcome:
    from grader.guard import join_run
    from grader.nbgrader_run import output_to, run_nbgrader, tools_on_path

    with tempfile.TemporaryDirectory(prefix="course-grading-task-", ignore_cleanup_errors=True) as temporary:
        scratch = Path(temporary) / "course"
        _lay_out(bundle, task, scratch)
        db_url = f"sqlite:///{scratch / 'gradebook.db'}"
        log = Path(temporary) / "nbgrader.log"
        argv = ["autograde", bundle.assignment, *bundle.nbgrader_args, "--force",
                f"--CourseDirectory.student_id={glob.escape(task.student)}", f"--CourseDirectory.db_url={db_url}",
                f"--CourseDirectory.root={scratch}", f"--CourseDirectory.source_directory={SOURCE}",
                f"--CourseDirectory.submitted_directory={SUBMITTED}",
                f"--CourseDirectory.autograded_directory={AUTOGRADED}"]
        # Where the course itself lies on this machine (grading locally), its kernels may not read it.
        hidden = [bundle.course_root] if Path(bundle.course_root).is_dir() else []

        def configure(app: Any) -> None:
            app.config.HardenedExecute.hidden_folders = hidden

        with contextlib.chdir(scratch), tools_on_path(), output_to(log):
            # The scratch course is a grading run of its own: its gradebook sessions and
            # claims live beside it, and go with it.
            join_run(Path(temporary) / "run")
            try:
                if task.prior.student_existed:
                    from nbgrader.api import Gradebook

                    with Gradebook(db_url, bundle.course_id) as gradebook:
                        _seed_prior(gradebook, bundle.assignment, task.student, task.prior)
                status = run_nbgrader(argv, configure=configure)
            except Exception:
                import traceback

                traceback.print_exc()
                status = 1
        graded = scratch / AUTOGRADED / task.student / bundle.assignment
        if status != 0 or not graded.is_dir():
            text = log.read_text(encoding="utf-8", errors="replace")[-_LOG_TAIL:]
            return Outcome(task.student, "error", message=error_reason(text))
        return _collect(scratch, graded, db_url, bundle, task)


def _lay_out(bundle: Bundle, task: Task, scratch: Path) -> None:
    """The scratch course: the configuration, the assignment's source, the submission, and a
    copy of the prepared gradebook. (A gradebook made from nothing costs about 2 s: nbgrader
    runs ``alembic heads`` in a subprocess for it. The coordinator prepares one per run.)"""
    scratch.mkdir()
    (scratch / "nbgrader_config.py").write_bytes(bundle.config)
    write_tree(bundle.source, scratch / SOURCE / bundle.assignment)
    write_tree(task.submission, scratch / SUBMITTED / task.student / bundle.assignment)
    (scratch / "gradebook.db").write_bytes(bundle.gradebook)
    # The course's own package, where the course is on this machine, as a kernel grading the
    # course itself would load it (grader.sandbox.course_code); elsewhere, the installed one.
    package = Path(bundle.course_root, "course")
    if (package / "__init__.py").is_file():
        (scratch / "course").symlink_to(package, target_is_directory=True)


def _collect(scratch: Path, graded: Path, db_url: str, bundle: Bundle, task: Task) -> Outcome:
    """The graded folder, and the gradebook entries nbgrader set for the student."""
    from nbgrader.api import Gradebook

    converted: dict[str, dict[str, set[str]]] = {}  # notebook -> {"grades": ids, "comments": ids}
    flagged = False
    for path in sorted(graded.glob("*.ipynb")):
        with contextlib.suppress(OSError, ValueError):
            nb = json.loads(path.read_text(encoding="utf-8"))
            flagged |= bool(nb.get("metadata", {}).get("course_grading", {}).get("flags"))
            touched: dict[str, set[str]] = {"grades": set(), "comments": set()}
            for cell in nb.get("cells", []):
                meta = cell.get("metadata", {}).get("nbgrader", {})
                if "grade_id" not in meta:
                    continue
                if meta.get("grade"):
                    touched["grades"].add(meta["grade_id"])
                if meta.get("solution") or meta.get("task"):
                    touched["comments"].add(meta["grade_id"])
            converted[path.stem] = touched
    submitted = scratch / SUBMITTED / task.student / bundle.assignment
    notebooks: dict[str, NotebookRecord] = {}
    with Gradebook(db_url, bundle.course_id) as gradebook:
        submission = gradebook.find_submission(bundle.assignment, task.student)
        timestamp = submission.timestamp
        for notebook in submission.notebooks:
            if notebook.name in converted:
                touched = converted[notebook.name]
                notebooks[notebook.name] = NotebookRecord(
                    grades={g.name: (g.auto_score, bool(g.needs_manual_grade)) for g in notebook.grades
                            if g.name in touched["grades"]},
                    comments={c.name: c.auto_comment for c in notebook.comments if c.name in touched["comments"]},
                    late_penalty=(notebook.late_submission_penalty,))
            elif not (submitted / f"{notebook.name}.ipynb").exists():
                # Not handed in: nbgrader scores every test of it 0.
                notebooks[notebook.name] = NotebookRecord(
                    grades={g.name: (g.auto_score, bool(g.needs_manual_grade)) for g in notebook.grades}, comments={})
    return Outcome(task.student, "graded", graded=read_tree(graded), timestamp=timestamp, notebooks=notebooks,
                   flagged=flagged)
