"""The coordinator, the only writer of a run: each graded submission goes into the real
gradebook and ``autograded/`` whole, or not at all.

Data flow (one student; the coordinator's process only)::

    Outcome --> autograded/<student>/.<assignment>.incoming   (the graded folder, written)
            --> the old graded folder moved aside, to .<assignment>.previous
            --> the gradebook: one transaction (student, submission, every score and comment)
            --> .incoming renamed into place; .previous removed

A student is written once its graded folder is in place, and only after its gradebook
transaction committed; without the folder, ``nbgrader autograde`` (and so a run again)
grades them. A coordinator that is killed half-way leaves at most the two side folders,
which the next run removes (:func:`recover`), and that student is graded again.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from grader.database import DatabaseLost, first_line, shown
from grader.guard import GradingRun
from grader.plan import Settings
from grader.summary import StudentResult
from grader.task import Outcome, write_tree

__all__ = ["Writer", "deferred_sigint", "one_transaction", "recover", "remove_tree"]


def remove_tree(path: Path) -> None:
    """Remove a graded folder, whose files nbgrader made read-only."""

    def writable_then_retry(function: Callable[..., Any], name: str, _error: Any) -> None:
        os.chmod(os.path.dirname(name), 0o755)
        with contextlib.suppress(OSError):
            os.chmod(name, 0o644)
        function(name)

    if path.is_dir() and not path.is_symlink():
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=writable_then_retry)
        else:  # onerror is deprecated from 3.12 on
            shutil.rmtree(path, onerror=writable_then_retry)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _side_folders(graded: Path) -> tuple[Path, Path]:
    """Where a student's new graded folder is written, and where the old one waits."""
    return graded.with_name(f".{graded.name}.incoming"), graded.with_name(f".{graded.name}.previous")


def recover(settings: Settings, students: Sequence[str]) -> list[str]:
    """Remove what a coordinator killed while writing left; return those students (they are
    graded again: their graded folder is missing, or complete)."""
    found = []
    for student in students:
        for side in _side_folders(settings.graded_folder(student)):
            if side.exists():
                remove_tree(side)
                found.append(student)
    return sorted(set(found))


class _FlushOnCommit:
    """A session whose ``commit`` only flushes: nbgrader's API commits after each call."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def commit(self) -> None:
        self._session.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


@contextlib.contextmanager
def one_transaction(gradebook: Any) -> Iterator[None]:
    """nbgrader API calls on ``gradebook`` in one transaction, committed at the end (rolled
    back if the block fails)."""
    session = gradebook.db
    gradebook.db = _FlushOnCommit(session)
    try:
        yield
    except BaseException:
        gradebook.db = session
        with contextlib.suppress(Exception):
            session.rollback()
        raise
    gradebook.db = session
    session.commit()


@contextlib.contextmanager
def deferred_sigint() -> Iterator[None]:
    """Ctrl-C during the block takes effect after it: a write is never stopped half-way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            raise KeyboardInterrupt


def _flagged(folder: Path) -> bool:
    """Whether the hardened grader flagged any graded notebook in ``folder`` for review."""
    flagged = False
    for path in folder.glob("*.ipynb"):
        with contextlib.suppress(OSError, ValueError):
            flags = json.loads(path.read_text()).get("metadata", {}).get("course_grading", {}).get("flags")
            flagged |= bool(flags)
    return flagged


class Writer:
    """Writes a run's outcomes into the course (``settings``), within ``run``'s guard."""

    def __init__(self, settings: Settings, run: GradingRun) -> None:
        self.settings = settings
        self.run = run

    def _database_errors(self) -> tuple[type[BaseException], ...]:
        from sqlalchemy.exc import DBAPIError, TimeoutError

        return DBAPIError, TimeoutError

    def write(self, outcome: Outcome) -> StudentResult:
        """Put one outcome into the gradebook and ``autograded/``; its result for the table.
        Raises :class:`DatabaseLost` (having changed nothing of that student) when the
        database does not answer."""
        started = time.perf_counter()
        if outcome.status != "graded":
            return StudentResult(outcome.student, "error", seconds=outcome.seconds, message=outcome.message)
        graded = self.settings.graded_folder(outcome.student)
        incoming, previous = _side_folders(graded)
        with deferred_sigint(), self.run.claim(graded):
            for side in (incoming, previous):
                remove_tree(side)
            if self.settings.notebook_pattern != "*" and graded.is_dir():
                # --notebook: nbgrader regrades those notebooks and leaves the others as they were.
                shutil.copytree(graded, incoming, symlinks=True)
            write_tree(outcome.graded, incoming)
            if graded.exists():
                os.rename(graded, previous)
            try:
                score, max_score = self._record(outcome)
            except BaseException:
                if previous.exists():
                    os.rename(previous, graded)
                remove_tree(incoming)
                raise
            os.rename(incoming, graded)
            remove_tree(previous)
        return StudentResult(outcome.student, "graded", score, max_score, outcome.flagged, outcome.seconds,
                             write_seconds=time.perf_counter() - started)

    def _record(self, outcome: Outcome) -> tuple[float, float]:
        """The student's gradebook entries, in one transaction: what nbgrader would have set."""
        from nbgrader.api import Gradebook  # type: ignore[import-untyped]
        from sqlalchemy.exc import SAWarning

        settings, student = self.settings, outcome.student
        try:
            with Gradebook(settings.db_url, settings.course_id) as gradebook, warnings.catch_warnings():
                # nbgrader's add_submission always triggers this one; it is nbgrader's to fix, and harmless.
                warnings.filterwarnings("ignore", "Object of type <Submitted", SAWarning)
                with one_transaction(gradebook):
                    gradebook.update_or_create_student(student)
                    if outcome.timestamp is not None:
                        submission = gradebook.update_or_create_submission(settings.assignment, student,
                                                                           timestamp=outcome.timestamp)
                    else:
                        submission = gradebook.update_or_create_submission(settings.assignment, student)
                    for notebook in submission.notebooks:
                        record = outcome.notebooks.get(notebook.name)
                        if record is None:
                            continue
                        for grade in notebook.grades:
                            if grade.name in record.grades:
                                grade.auto_score, grade.needs_manual_grade = record.grades[grade.name]
                        for comment in notebook.comments:
                            if comment.name in record.comments:
                                comment.auto_comment = record.comments[comment.name]
                        if record.late_penalty is not None:
                            notebook.late_submission_penalty = record.late_penalty[0]
                submission = gradebook.find_submission(settings.assignment, student)
                return float(submission.score), float(submission.max_score)
        except self._database_errors() as error:
            raise DatabaseLost(f"the gradebook {shown(settings.db_url)} stopped answering while {student} was "
                               f"written: {first_line(error)}") from None

    def skipped(self, student: str) -> StudentResult:
        """A student nbgrader would not grade again now: their grades as they are."""
        from nbgrader.api import Gradebook, MissingEntry

        score = max_score = None
        with Gradebook(self.settings.db_url, self.settings.course_id) as gradebook:
            with contextlib.suppress(MissingEntry):
                submission = gradebook.find_submission(self.settings.assignment, student)
                score, max_score = float(submission.score), float(submission.max_score)
        return StudentResult(student, "skipped", score, max_score, _flagged(self.settings.graded_folder(student)),
                             message="graded before; --force regrades")
