"""The ``run.py autograde`` command: autograde a whole class on this machine's CPUs or on a
Dask cluster, with the course's hardened grader (README, instructor guide, step 5).

Data flow (grader.task's pure step; this process is the run's only writer)::

    coordinator: the plan (grader.plan), the bundle and each student's task (grader.prepare)
    coordinator --tasks--> Dask scheduler --> worker processes, a notebook at a time each
        (a local cluster started for the run, or the cluster at --scheduler)
    worker --Outcome--> coordinator --(grader.writer)--> gradebook (SQLite or a server), autograded/
    coordinator: progress bar, then the table (grader.summary); the run's CourseGuard at the end
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from course.cpus import usable_cpu_count
from grader.database import DatabaseLost, coordinator_lock, install_pool
from grader.engine import ClusterProblem, Engine, SchedulerLost, cluster
from grader.guard import CourseGuard, join_run, leave_run
from grader.nbgrader_run import child_subreaper, tools_on_path
from grader.plan import Settings, UsageError, check_gradebook, find_students, gradebook_file, needs_grading, resolve
from grader.prepare import make_bundle, make_task
from grader.summary import ClassReport, StudentResult
from grader.task import Prior, read_prior
from grader.writer import Writer, recover

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
def _one_coordinator(settings: Settings) -> Iterator[None]:
    """One run at a time per gradebook: two would each write the same students."""
    try:
        with coordinator_lock(settings.db_url, gradebook_file(settings), settings.course_id):
            yield
    except RuntimeError as error:
        raise UsageError(str(error)) from None


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
    """End what the run started on this machine and is still there (a local cluster's
    workers, their kernels, and whatever those started, however deep or detached)."""
    import psutil  # type: ignore[import-untyped]

    from grader.processes import end_all, remove_shared_memory

    uids = set()
    for pid in family.pids():
        with contextlib.suppress(psutil.Error):
            uids.add(psutil.Process(pid).uids().real)
    end_all(family, grace=0.5, keep=())
    mine = os.getuid() if hasattr(os, "getuid") else None
    for uid in uids - {mine}:
        remove_shared_memory(uid)  # semaphores and shared memory of kernels that had a user of their own


def grade_class(assignment: str, nbgrader_args: Sequence[str] = (), *, jobs: int | None = None,
                scheduler: str | None = None, course: Path | None = None, out: TextIO | None = None) -> ClassReport:
    """Autograde ``assignment`` for every student in ``submitted/``, as ``nbgrader autograde
    <assignment> <nbgrader_args>`` run in ``course`` (default: the current folder) would:
    on the Dask cluster whose scheduler is at ``scheduler``, else on ``jobs`` worker
    processes of this machine (default: one per usable CPU).

    Raises :class:`UsageError`, having changed nothing, when the input is wrong. Prints
    progress and the summary table to ``out`` (default: stdout).
    """
    out = sys.stdout if out is None else out
    course = Path.cwd() if course is None else course
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs must be 1 or more, not {jobs}")
    if jobs is not None and scheduler is not None:
        raise UsageError("--jobs is for grading on this machine; with --scheduler the cluster's workers grade "
                         "(start as many as you want there)")
    settings = resolve(course.resolve(), assignment, nbgrader_args)
    install_pool()
    with tools_on_path(), _one_coordinator(settings):
        settings = check_gradebook(settings)
        students = find_students(settings)
        run_dir = Path(tempfile.mkdtemp(prefix="course-classgrade-"))
        try:
            return _grade(settings, students, jobs or default_jobs(), scheduler, run_dir, out)
        finally:
            leave_run()
            shutil.rmtree(run_dir, ignore_errors=True)


@dataclasses.dataclass
class _Stop:
    """Why a run stopped before every student was graded."""

    why: str = ""
    interrupted: bool = False
    error: str = ""


def _grade(settings: Settings, students: list[str], jobs: int, scheduler: str | None, run_dir: Path,
           out: TextIO) -> ClassReport:
    from nbgrader.api import Gradebook  # type: ignore[import-untyped]

    from grader.processes import ProcessSet

    recover(settings, students)  # what a coordinator killed while writing left
    to_grade = [student for student in students if needs_grading(settings, student)]
    bundle = make_bundle(settings) if to_grade else None
    with Gradebook(settings.db_url, settings.course_id) as gradebook:
        priors = {student: read_prior(gradebook, settings.assignment, student) for student in to_grade}
    run = join_run(run_dir)
    in_flight: set[str] = set()
    # The students the workers are grading: while they are, a change of the gradebook's file
    # is no doing of this process (the run's guard puts it back and reports it).
    run.elsewhere = lambda: sorted(str(settings.graded_folder(student)) for student in in_flight)
    # The course-files guard around the whole run, with the rules each notebook's has.
    run_guard = CourseGuard(settings.root, gradebook_file(settings), [], run=run)
    writer = Writer(settings, run)
    results = {student: writer.skipped(student) for student in students if student not in to_grade}
    jobs = max(1, min(jobs, len(to_grade)))
    where = (f"on the Dask cluster at {scheduler}" if scheduler else
             f"{jobs} at a time (a worker process each, on this machine)")
    print(f"Grading {settings.assignment} for {len(students)} student(s), {where}, with the course's hardened "
          f"grader" + (f"; {len(results)} graded before (--force regrades them)" if results else "") + ".",
          file=out, flush=True)
    bar = _Bar(out, len(students), settings.assignment)
    for student in students:
        if student in results:
            bar.update(results[student])
    stop = _Stop()
    started = time.monotonic()
    # Orphans of a local worker that is ended come here, and are ended in turn.
    with child_subreaper():
        family = ProcessSet(None, lambda: ())  # this run's processes: those started from here on
        try:
            if bundle is not None:
                with cluster(scheduler, jobs) as client:
                    engine = Engine(client, bundle, scheduler or "this machine")
                    if scheduler:
                        jobs = engine.threads()
                    try:
                        _grade_on(engine, writer, settings, to_grade, priors, in_flight, results, bar)
                    except BaseException:
                        with _sigint_ignored():
                            engine.cancel()
                        raise
        except ClusterProblem as error:
            bar.close()
            raise UsageError(str(error)) from None
        except KeyboardInterrupt:
            stop = _Stop("stopped by Ctrl-C", interrupted=True)
        except SchedulerLost as error:
            stop = _Stop(str(error))
        except DatabaseLost as error:
            stop = _Stop("the gradebook stopped answering", error=f"{error}; every student the table shows as "
                         "graded is written in full. Run the same command again once the database is back.")
        finally:
            with _sigint_ignored():
                bar.close()
                if stop.why:
                    print(f"Stopping: {stop.why}; ending the run's work...", file=out, flush=True)
                _end_everything(family)
    seconds = time.monotonic() - started
    for student in students:
        if student not in results:
            where_then = "while being graded" if student in in_flight else "before its turn"
            left = "; left as before the run" if student in in_flight else ""
            results[student] = StudentResult(student, "not graded", message=f"{stop.why} {where_then}{left}")
    with _sigint_ignored():
        warnings = [f"{change} — while the class was graded; review the submissions graded in this run"
                    for change in run_guard.check_and_restore()]
        run_guard.close()
    report = ClassReport(settings.assignment, jobs, round(seconds, 2), [results[s] for s in students],
                         interrupted=stop.interrupted, warnings=warnings, error=stop.error)
    report.print(out, stop.why)
    return report


def _grade_on(engine: Engine, writer: Writer, settings: Settings, to_grade: list[str], priors: dict[str, Prior],
              in_flight: set[str], results: dict[str, StudentResult], bar: _Bar) -> None:
    """Keep the cluster busy, and write each outcome as it comes. Twice as many submissions
    as the cluster grades at once are handed out: a worker finds its next one waiting, and
    the rest (and their files) stay here until then."""
    pending = collections.deque(to_grade)
    while pending or engine.in_flight:
        window = 2 * engine.threads()
        while pending and len(engine.in_flight) < window:
            student = pending.popleft()
            engine.submit(make_task(settings, student, priors[student]))
            in_flight.add(student)
        outcome = engine.next_outcome()
        result = writer.write(outcome)
        in_flight.discard(outcome.student)
        result = dataclasses.replace(result, write_seconds=result.write_seconds + engine.receive_seconds)
        results[outcome.student] = result
        bar.update(result)


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
        usage="%(prog)s <assignment> [--jobs N | --scheduler tcp://HOST:PORT] [nbgrader autograde options]",
        description="Autograde <assignment> for every student in submitted/, N submissions at a time on this "
                    "machine or on a Dask cluster, with the course's hardened grader. Other options go to nbgrader "
                    "autograde: --force, --student PATTERN, --db URL (sqlite:///... or postgresql://...), "
                    "--CourseDirectory.student_id_exclude=...")
    parser.add_argument("assignment", help="the assignment to grade, e.g. 01_processes")
    parser.add_argument("--jobs", "-j", type=_jobs, metavar="N",
                        help="worker processes on this machine (default: one per usable CPU)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="grade on the Dask cluster whose scheduler is at ADDRESS (e.g. tcp://10.0.0.5:8786)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command: exit status 0 (all graded), 1 (some could not be), 2 (bad input, nothing
    changed) or 130 (stopped by Ctrl-C)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if not args or (args[0].startswith("-") and args[0] not in ("-h", "--help")):
            raise UsageError("give the assignment first, e.g. `python3 run.py autograde 01_processes --jobs 4`")
        parsed, nbgrader_args = _parser().parse_known_args(args)
        report = grade_class(parsed.assignment, nbgrader_args, jobs=parsed.jobs, scheduler=parsed.scheduler)
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
