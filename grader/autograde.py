"""The ``run.py autograde`` command: autograde a whole class in parallel, with the course's
hardened grader (README, instructor guide, step 5).

Data flow (one run folder, shared through :class:`grader.guard.GradingRun`)::

    main process --spawn--> N workers (grader.worker), a student at a time each
    worker   --gradebook sessions, under the run's lock--> gradebook.db
    worker   --claims, done/, previous/-->  run folder  --on a stop--> main process (grader.rollback)
    main process: progress bar, then the table (grader.summary); the run's CourseGuard at the end
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import hashlib
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, NoReturn, TextIO

from filelock import FileLock
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from course.cpus import usable_cpu_count
from grader.guard import CourseGuard, GradingRun, join_run
from grader.nbgrader_run import child_subreaper, tools_on_path
from grader.plan import Settings, UsageError, check_gradebook, find_students, gradebook_file, resolve
from grader.rollback import Checkpoints, Prior, read_prior, restore_prior
from grader.summary import ClassReport, StudentResult
from grader.worker import WorkerSpec, grade_student, init_worker

__all__ = ["default_jobs", "grade_class", "main"]


def default_jobs() -> int:
    """One worker per CPU this process may use (affinity and cgroup-aware where Python is)."""
    return usable_cpu_count()


class _Bar:
    """How far the run is: rich's progress bar on a terminal; elsewhere (a log, CI, a test
    reading the output) a line per finished student."""

    def __init__(self, out: TextIO, total: int, label: str) -> None:
        self.out, self.total = out, total
        self.done = self.errors = 0
        self.progress: Progress | None = None
        if out.isatty():
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[errors]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                     console=Console(file=out), redirect_stdout=False, redirect_stderr=False)
            self.task = self.progress.add_task(label, total=total, errors="")
            self.progress.start()

    def update(self, result: StudentResult) -> None:
        self.done += 1
        self.errors += result.status == "error"
        if self.progress is not None:
            self.progress.update(self.task, advance=1, errors=f"{self.errors} error(s)" if self.errors else "")
        else:
            print(f"[{self.done}/{self.total}] {result.student}: {result.brief()}", file=self.out, flush=True)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


@contextlib.contextmanager
def _run_lock(settings: Settings) -> Iterator[None]:
    """One run at a time per gradebook: two would each take the other's writes for tampering."""
    path = gradebook_file(settings)
    key = hashlib.sha256(str(path or settings.db_url).encode()).hexdigest()[:16]
    lock = FileLock(os.path.join(tempfile.gettempdir(), f"course-classgrade-{key}.lock"))
    try:
        lock.acquire(blocking=False)
    except Exception:
        raise UsageError("another `run.py autograde` is grading into this gradebook: wait for it to finish") from None
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """While the run cleans up, a second Ctrl-C must not leave it half-done (it takes seconds)."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: nothing to protect from
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _end_everything(family: Any) -> None:
    """End the workers, their kernels, and whatever those started, however deep or detached."""
    import psutil  # type: ignore[import-untyped]

    from grader.processes import end_all, remove_shared_memory

    uids = set()
    for pid in family.pids():
        with contextlib.suppress(psutil.Error):
            uids.add(psutil.Process(pid).uids().real)
    # Leave the workers' exit statuses to multiprocessing, which waits for them.
    workers = [child.pid for child in multiprocessing.active_children() if child.pid is not None]
    end_all(family, grace=0.5, keep=workers)
    mine = os.getuid() if hasattr(os, "getuid") else None
    for uid in uids - {mine}:
        remove_shared_memory(uid)  # semaphores and shared memory of kernels that had a user of their own


def grade_class(assignment: str, nbgrader_args: Sequence[str] = (), *, jobs: int | None = None,
                course: Path | None = None, out: TextIO | None = None) -> ClassReport:
    """Autograde ``assignment`` for every student in ``submitted/`` with ``jobs`` worker
    processes (default: one per usable CPU), as ``nbgrader autograde <assignment>
    <nbgrader_args>`` run in ``course`` (default: the current folder) would.

    Raises :class:`UsageError`, having changed nothing, when the input is wrong. Prints
    progress and the summary table to ``out`` (default: stdout).
    """
    out = sys.stdout if out is None else out
    course = Path.cwd() if course is None else course
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs must be 1 or more, not {jobs}")
    settings = resolve(course.resolve(), assignment, nbgrader_args)
    with tools_on_path(), _run_lock(settings):
        settings = check_gradebook(settings)
        students = find_students(settings)
        jobs = min(jobs or default_jobs(), len(students))
        run_dir = Path(tempfile.mkdtemp(prefix="course-classgrade-"))
        try:
            return _grade(settings, students, jobs, join_run(run_dir), out)
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)


def _grade(settings: Settings, students: list[str], jobs: int, run: GradingRun, out: TextIO) -> ClassReport:
    from nbgrader.api import Gradebook  # type: ignore[import-untyped]

    from grader.processes import ProcessSet

    with Gradebook(settings.db_url, settings.course_id) as gradebook:  # the run's first session
        priors = {student: read_prior(gradebook, settings.assignment, student) for student in students}
    # The course-files guard around the whole run, with the rules each notebook's has: it
    # sees what no notebook's guard could (a notebook ended before its guard looked, a
    # graded folder changed after its grader finished). On Linux the sandbox keeps kernels out anyway.
    run_guard = CourseGuard(settings.root, gradebook_file(settings), [], run=run)
    checkpoints = Checkpoints(run.folder)
    print(f"Grading {settings.assignment} for {len(students)} student(s), {jobs} at a time "
          f"(a worker process each, with the course's hardened grader).", file=out, flush=True)
    bar = _Bar(out, len(students), settings.assignment)
    results: dict[str, StudentResult] = {}
    futures: dict[concurrent.futures.Future[StudentResult], str] = {}
    stopped_because = ""
    interrupted = False
    started = time.monotonic()
    # spawn: each worker is a fresh interpreter that imports what it needs. It inherits
    # none of this process's threads or locks (fork would copy them mid-use), and it
    # behaves the same on Linux, macOS and Windows.
    context = multiprocessing.get_context("spawn")
    # Orphans of a worker that is ended come here, and are ended in turn.
    with child_subreaper():
        executor = concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context,
                                                          initializer=init_worker,
                                                          initargs=(WorkerSpec(settings, run.folder),))
        # Made after the executor (whose resource tracker is not ours to end) and before its
        # workers start: they, and everything below them, are this run's processes.
        family = ProcessSet(None, lambda: ())
        try:
            futures = {executor.submit(grade_student, student): student for student in students}
            for future in concurrent.futures.as_completed(futures):
                try:
                    result = future.result()
                except BrokenProcessPool as error:
                    stopped_because = f"a grading worker died ({error})"
                    raise
                except Exception as error:  # not raised by the worker's code, which returns a result
                    result = StudentResult(futures[future], "error", message=f"{type(error).__name__}: {error}")
                results[result.student] = result
                bar.update(result)
            bar.close()
            executor.shutdown(wait=True)
        except (KeyboardInterrupt, BrokenProcessPool) as error:
            if isinstance(error, KeyboardInterrupt):
                interrupted = True
                stopped_because = "stopped by Ctrl-C"
            with _sigint_ignored():
                bar.close()
                print(f"Stopping: {stopped_because}; ending the workers and their kernels...", file=out, flush=True)
                for future in futures:
                    future.cancel()
                _end_everything(family)
                executor.shutdown(wait=True, cancel_futures=True)
                # A worker ended in the middle of a gradebook session leaves its transaction
                # to be rolled back (SQLite's journal): the run's own, not tampering.
                run.gradebook_at(settings.db_url).adopt()
                _finish_stopped(settings, students, priors, results, checkpoints, stopped_because)
    seconds = time.monotonic() - started
    with _sigint_ignored():
        warnings = [f"{change} — while the class was graded; review the submissions graded in this run"
                    for change in run_guard.check_and_restore()]
        run_guard.close()
    report = ClassReport(settings.assignment, jobs, round(seconds, 2),
                         [results[s] for s in students], interrupted=interrupted, warnings=warnings)
    report.print(out, stopped_because)
    return report


def _finish_stopped(settings: Settings, students: list[str], priors: Mapping[str, Prior],
                    results: dict[str, StudentResult], checkpoints: Checkpoints, why: str) -> None:
    """After the workers were ended: keep who was finished, put back who was begun."""
    from nbgrader.api import Gradebook

    for student in students:
        if student in results:
            continue
        finished = checkpoints.finished(student)
        if finished is not None:  # finished, but the result had not reached this process
            results[student] = StudentResult(**finished)
            continue
        if checkpoints.begun(student):
            with Gradebook(settings.db_url, settings.course_id) as gradebook:
                restore_prior(gradebook, settings.assignment, student, priors[student])
            checkpoints.put_back(student, settings.graded_folder(student))
            message = f"{why} while being graded; left as before the run"
        else:
            message = f"{why} before its turn"
        results[student] = StudentResult(student, "not graded", message=message)


# --- the command ------------------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with its complaints as a UsageError (one line, status 2, like every other)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _jobs(value: str) -> int:
    try:
        jobs = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--jobs wants a whole number of worker processes, not {value!r}") from None
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"--jobs must be 1 or more, not {jobs}")
    return jobs


def _parser() -> _Parser:
    parser = _Parser(
        prog="python3 run.py autograde", allow_abbrev=False,  # a prefix may be one of nbgrader's options
        usage="%(prog)s <assignment> [--jobs N] [nbgrader autograde options]",
        description="Autograde <assignment> for every student in submitted/, N submissions at a time, with the "
                    "course's hardened grader. Other options go to nbgrader autograde: --force, --student PATTERN, "
                    "--db URL, --CourseDirectory.student_id_exclude=...")
    parser.add_argument("assignment", help="the assignment to grade, e.g. 01_processes")
    parser.add_argument("--jobs", "-j", type=_jobs, metavar="N",
                        help="worker processes (default: one per usable CPU)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command: exit status 0 (all graded), 1 (some could not be), 2 (bad input, nothing
    changed) or 130 (stopped by Ctrl-C)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if not args or (args[0].startswith("-") and args[0] not in ("-h", "--help")):
            raise UsageError("give the assignment first, e.g. `python3 run.py autograde 01_processes --jobs 4`")
        parsed, nbgrader_args = _parser().parse_known_args(args)
        report = grade_class(parsed.assignment, nbgrader_args, jobs=parsed.jobs)
    except UsageError as error:
        for line in str(error).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    except SystemExit as stop:  # --help
        return stop.code if isinstance(stop.code, int) else 0
    except KeyboardInterrupt:
        print("\nStopped before grading began: nothing was changed.", file=sys.stderr)
        return 130
    return report.exit_status


if __name__ == "__main__":
    sys.exit(main())
