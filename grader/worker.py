"""Grading one student in a worker process of a class grading run, with nbgrader's own
``AutogradeApp`` and the course's configuration (so with the hardened grader)."""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from grader.guard import GradingRun, join_run
from grader.nbgrader_run import run_nbgrader, send_output
from grader.plan import Settings
from grader.rollback import Checkpoints
from grader.summary import StudentResult

__all__ = ["WorkerSpec", "error_reason", "grade_student", "init_worker"]


@dataclasses.dataclass(frozen=True)
class WorkerSpec:
    """What every worker needs to know, sent once when it starts (it must pickle: spawn)."""

    settings: Settings
    run_dir: Path


@dataclasses.dataclass
class _Worker:
    spec: WorkerSpec
    run: GradingRun
    checkpoints: Checkpoints
    log: Path


_worker: _Worker | None = None  # this process's state, when it is a worker


def init_worker(spec: WorkerSpec) -> None:
    """Runs once in each worker process, before its first student."""
    global _worker
    # Ctrl-C in a terminal signals the whole foreground process group. Leave it, so that a
    # worker is never interrupted half-way through a step: the main process ends the
    # workers itself, and then puts back what they left unfinished.
    if hasattr(os, "setpgrp"):
        os.setpgrp()
    if sys.platform.startswith("linux"):
        from grader_kernel import privileges

        # If the command itself is killed, its workers must not go on writing grades.
        parent = os.getppid()
        privileges.set_parent_death_signal(signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(1)
        # Orphans of a notebook (a double fork, setsid) come to this worker, and so can be
        # ended; the hardened grader turns this on per notebook anyway.
        with contextlib.suppress(OSError):
            privileges.set_child_subreaper(True)
    # What this worker, nbgrader and the kernels print goes to the worker's log, a slice
    # of which is each student's log; the terminal keeps only the progress bar.
    log = spec.run_dir / "logs" / f"worker-{os.getpid()}.log"
    log.parent.mkdir(exist_ok=True)
    send_output(log)
    os.chdir(spec.settings.root)
    _worker = _Worker(spec, join_run(spec.run_dir), Checkpoints(spec.run_dir), log)


def _log_size(log: Path) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    return log.stat().st_size


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


def grade_student(student: str) -> StudentResult:
    """Grade one student with nbgrader's own AutogradeApp, in this worker process."""
    worker = _worker
    assert worker is not None, "grade_student runs in a worker made by grader.autograde"
    settings = worker.spec.settings
    started = time.monotonic()
    sessions = worker.run.gradebook_at(settings.db_url)
    held_before = sessions.held_seconds
    graded = settings.graded_folder(student)
    worker.checkpoints.begin(student, graded)
    notebooks = [graded / f"{name}.ipynb" for name in settings.notebooks]
    before = [path.stat().st_mtime_ns if path.exists() else None for path in notebooks]
    log_start = _log_size(worker.log)
    # The graded folder is this grader's to write until it is done: the run's guards
    # (every notebook's, and the run's own) leave it alone until then.
    with worker.run.claim(graded):
        try:
            status = run_nbgrader(
                ["autograde", settings.assignment, *settings.nbgrader_args],
                # nbgrader's --student is a pattern: this student, and only them.
                configure=lambda app: setattr(app.coursedir, "student_id", glob.escape(student)))
        except Exception:
            traceback.print_exc()
            status = 1
        log_end = _log_size(worker.log)
        with open(worker.log, "rb") as file:
            file.seek(log_start)
            log = file.read(log_end - log_start).decode("utf-8", "replace")
        score = max_score = None
        flagged = False
        if status == 0:
            from nbgrader.api import Gradebook, MissingEntry  # type: ignore[import-untyped]

            with Gradebook(settings.db_url, settings.course_id) as gradebook:
                with contextlib.suppress(MissingEntry):
                    submission = gradebook.find_submission(settings.assignment, student)
                    score, max_score = float(submission.score), float(submission.max_score)
            for path in notebooks:
                with contextlib.suppress(OSError, ValueError):
                    flags = json.loads(path.read_text()).get("metadata", {}).get("course_grading", {}).get("flags")
                    flagged |= bool(flags)
            after = [path.stat().st_mtime_ns if path.exists() else None for path in notebooks]
            skipped = after == before and None not in before
            result = StudentResult(student, "skipped" if skipped else "graded", score, max_score, flagged,
                                   message="graded before; --force regrades" if skipped else "")
        else:
            result = StudentResult(student, "error", message=error_reason(log))
    result = dataclasses.replace(result, seconds=round(time.monotonic() - started, 2),
                                 lock_seconds=sessions.held_seconds - held_before)
    worker.checkpoints.finish(student, dataclasses.asdict(result))
    return result
