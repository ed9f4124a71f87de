"""Putting students back as they were before a class grading run stopped half-way (Ctrl-C,
or a worker that died): their gradebook entries and their graded folder.

Data flow, in the run's folder (workers write, the main process reads after ending them)::

    worker, before a student:  previous/<student>  (a copy of the graded folder), started/<student>
    worker, after a student:   done/<student>.json (its result), previous/<student> removed
    main process, on a stop:   begun and not done -> gradebook entries and graded folder put back
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["Checkpoints", "Prior", "read_prior", "remove_tree", "restore_prior"]


@dataclasses.dataclass(frozen=True)
class Prior:
    """A student's gradebook entries for the assignment before the run."""

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
            "late_submission_penalty": nb.late_submission_penalty,
            "grades": {g.name: (g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade) for g in nb.grades},
            "comments": {c.name: (c.auto_comment, c.manual_comment) for c in nb.comments},
        } for nb in submission.notebooks},
    })


def restore_prior(gradebook: Any, assignment: str, student: str, prior: Prior) -> None:
    from nbgrader.api import MissingEntry

    if prior.submission is None:
        with contextlib.suppress(MissingEntry):
            gradebook.remove_submission(assignment, student)
        if not prior.student_existed:
            with contextlib.suppress(MissingEntry):
                gradebook.remove_student(student)
        return
    submission = gradebook.find_submission(assignment, student)  # autograde never removes one
    submission.timestamp = prior.submission["timestamp"]
    submission.extension = prior.submission["extension"]
    for notebook in submission.notebooks:
        saved = prior.submission["notebooks"].get(notebook.name)
        if saved is None:
            continue
        notebook.flagged = saved["flagged"]
        notebook.late_submission_penalty = saved["late_submission_penalty"]
        for grade in notebook.grades:
            if grade.name in saved["grades"]:
                (grade.auto_score, grade.manual_score, grade.extra_credit,
                 grade.needs_manual_grade) = saved["grades"][grade.name]
        for comment in notebook.comments:
            if comment.name in saved["comments"]:
                comment.auto_comment, comment.manual_comment = saved["comments"][comment.name]
    gradebook.db.commit()


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


class Checkpoints:
    """Which students a run began and finished, kept in its folder so that it outlives the
    worker that graded them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        for name in ("previous", "started", "done"):
            (folder / name).mkdir(exist_ok=True)

    def begin(self, student: str, graded: Path) -> None:
        """Keep the graded folder of an earlier run, in case this one is stopped half-way;
        then mark the student as begun. Nothing of theirs changes before the mark."""
        if graded.exists():
            partial = self.folder / "previous" / f"{student}.partial"
            shutil.copytree(graded, partial, symlinks=True)
            os.replace(partial, self.folder / "previous" / student)
        (self.folder / "started" / student).touch()

    def finish(self, student: str, result: dict[str, Any]) -> None:
        """Finished, whatever happens to this process from here on: the main process keeps it."""
        done = self.folder / "done" / f"{student}.json"
        partial = done.with_name(done.name + ".partial")
        partial.write_text(json.dumps(result))
        os.replace(partial, done)
        remove_tree(self.folder / "previous" / student)

    def finished(self, student: str) -> dict[str, Any] | None:
        done = self.folder / "done" / f"{student}.json"
        return json.loads(done.read_text()) if done.is_file() else None

    def begun(self, student: str) -> bool:
        return (self.folder / "started" / student).exists()

    def put_back(self, student: str, graded: Path) -> None:
        """The graded folder as it was before the run (none, if there was none)."""
        remove_tree(graded)
        previous = self.folder / "previous" / student
        if previous.is_dir():
            graded.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(previous, graded, symlinks=True)
