"""Autograde a whole class in parallel, with the course's hardened grader.

From the course folder (the one holding ``nbgrader_config.py``)::

    python3 run.py autograde 01_processes                 # every student in submitted/
    python3 run.py autograde 01_processes --jobs 4 --force
    python3 run.py autograde 01_processes --db sqlite:////srv/grades/course.db

(``.venv/bin/python -m grader.classgrade 01_processes ...`` does the same.) Every
option other than ``--jobs`` is an option of ``nbgrader autograde`` and means what it means
there: ``--force`` regrades students already graded, ``--student`` picks students by
pattern, ``--db`` names the gradebook, ``--CourseDirectory.student_id_exclude=a,b``...

nbgrader grades one submission after another. This command hands the submissions to a
pool of worker processes (``concurrent.futures.ProcessPoolExecutor``, one worker per
usable CPU unless ``--jobs`` says otherwise) and shows a progress bar, then a table: each
student's score, whether the grader flagged the submission for review, how long it took,
and what happened. The results are the ones sequential ``nbgrader autograde`` gives (the
same scores, comments and review flags, in the same gradebook and ``autograded/``
folders), because nothing of grading is done here: each worker runs nbgrader's own
``AutogradeApp`` for one student at a time, with the course's ``nbgrader_config.py``, so
every submission gets the hardened grader (:mod:`grader`) exactly as it would.

What a parallel run adds, and how it is made safe:

* **One gradebook, many writers.** Every gradebook session of the run (each ``Gradebook``
  nbgrader opens, from opening to closing) holds a file lock, so sessions of different
  workers take turns; each lasts milliseconds, while a notebook runs for seconds. SQLite's
  busy timeout alone would not do: a transaction that has read and then wants to write,
  while another process writes, gets "database is locked" at once (SQLite cannot wait
  there without risking a deadlock), and nbgrader would drop that student. Connections
  also wait up to a minute for other programs (Formgrader) instead of nbgrader's 5 s.
* **The course-files guard.** Around each notebook, the hardened grader checks that the
  course's files did not change, and puts back what did. Several graders at once write the
  gradebook and the graded folders legitimately, so a worker tells it so
  (``HardenedExecute.shared_course``): it then compares only ``source/``, ``release/`` and
  the config around each notebook, and this module checks the rest. The gradebook must be,
  at the start of every session, in the state the run's last session left it; anything
  else that wrote to it is undone and reported. The other students' files are checked
  around the whole run, and each graded folder at the end against what its grader left.
  (On Linux the sandbox keeps kernels from writing any of these in the first place.)
* **Ctrl-C.** The workers run in process groups of their own, so the terminal's Ctrl-C
  reaches only this process. It then ends the workers, their kernels and everything those
  started (orphans included: on Linux this process is a child subreaper), and puts every
  student whose grading had begun but not finished back as before the run: their
  gradebook entries (none, for a student never graded before) and their graded folder.
  Each student is then either fully graded or not graded, and the table says which. A
  grading worker that dies for another reason (the kernel's out-of-memory killer) is
  handled the same way.

Limits: grading runs one kernel per worker, so a machine needs the memory for that many
notebooks at once (about 0.3 GB each for this course; up to the ``HardenedExecute``
memory cap for a runaway one). Don't write to the gradebook by other means (Formgrader,
another ``nbgrader autograde``) during a run: the guard would take such a write for
tampering and put the gradebook back, as the sequential grader also does. Only nbgrader's
default ``directory_structure`` is supported.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import fnmatch
import glob
import hashlib
import io
import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from concurrent.futures.process import BrokenProcessPool
from typing import Any, ClassVar, NamedTuple, TextIO

from filelock import FileLock

from course.cpus import usable_cpu_count
from grader.guard import CourseGuard

__all__ = [
    "CellResult",
    "ClassReport",
    "StudentResult",
    "UsageError",
    "default_jobs",
    "grade_class",
    "grades_of",
    "main",
    "notebook_problem",
    "run_nbgrader",
    "tools_on_path",
]

USAGE = """\
usage: python3 run.py autograde <assignment> [--jobs N] [nbgrader autograde options]

Autograde <assignment> for every student in submitted/, N submissions at a time (default:
one per usable CPU), with the course's hardened grader. Other options go to nbgrader
autograde: --force, --student PATTERN, --db URL, --CourseDirectory.student_id_exclude=...
"""

_DEFAULT_STRUCTURE = "{nbgrader_step}/{student_id}/{assignment_id}"
# How long a gradebook session may wait for another process's session. Sessions last
# milliseconds; ten minutes only ends a run whose gradebook something else holds for good.
_LOCK_TIMEOUT = 600.0
# How long an SQLite connection waits for another program (Formgrader, say) to finish writing.
_BUSY_TIMEOUT_MS = 60_000


class UsageError(Exception):
    """Bad input: what is wrong and how to fix it, one line per problem. Nothing was changed."""


# --- results ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StudentResult:
    """What happened to one student's submission in a run.

    ``status``: "graded", "skipped" (graded before; ``--force`` regrades), "error" (nbgrader
    could not grade it: ``message`` says why, as sequential ``nbgrader autograde`` would
    report it), or "not graded" (the run stopped first; the student is as before the run).
    """

    student: str
    status: str
    score: float | None = None
    max_score: float | None = None
    flagged: bool = False
    seconds: float | None = None
    message: str = ""
    lock_seconds: float = 0.0  # time this student's grading held the gradebook lock
    files: dict[str, tuple[int, int]] = dataclasses.field(default_factory=dict)  # its graded folder, as left

    def brief(self) -> str:
        """'8/10, 12.3 s, graded' and the like."""
        parts = []
        if self.score is not None and self.max_score is not None:
            parts.append(f"{self.score:g}/{self.max_score:g}")
        if self.seconds is not None:
            parts.append(f"{self.seconds:.1f} s")
        parts.append(self.status + (", flagged for review" if self.flagged else ""))
        return ", ".join(parts)


@dataclasses.dataclass
class ClassReport:
    """A whole run: one result per student, and what the run as a whole noticed."""

    assignment: str
    jobs: int
    seconds: float
    results: list[StudentResult]
    interrupted: bool = False
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def exit_status(self) -> int:
        """130 after Ctrl-C; 1 if any student could not be graded (as nbgrader exits); else 0."""
        if self.interrupted:
            return 130
        if any(r.status in ("error", "not graded") for r in self.results) or self.warnings:
            return 1
        return 0

    def table(self) -> str:
        """The summary: student, score/max, flagged, seconds, status."""
        rows = [("student", "score", "flagged", "seconds", "status")]
        for r in sorted(self.results, key=lambda r: r.student):
            score = f"{r.score:g} / {r.max_score:g}" if r.score is not None and r.max_score is not None else "-"
            seconds = f"{r.seconds:.1f}" if r.seconds is not None else "-"
            status = r.status + (f": {r.message}" if r.message else "")
            rows.append((r.student, score, "yes" if r.flagged else "-", seconds, status))
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = [f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:^{widths[2]}}  {row[3]:>{widths[3]}}  {row[4]}"
                 for row in rows]
        lines.insert(1, "-" * max(len(line) for line in lines))
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        work = sum(r.seconds or 0.0 for r in self.results)
        locked = sum(r.lock_seconds for r in self.results)
        lines.append("")
        lines.append(f"{len(self.results)} students: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
                     + f" · {self.jobs} worker(s) · {self.seconds:.1f} s (the notebooks took {work:.1f} s in all; "
                     f"the gradebook was locked for {locked:.1f} s)")
        return "\n".join(lines)


class CellResult(NamedTuple):
    """One graded or commented cell of a student's submission, as the gradebook holds it."""

    auto_score: float | None
    max_score: float | None
    needs_manual_grade: bool | None
    auto_comment: str | None


def grades_of(db_url: str, assignment: str) -> dict[str, dict[str, CellResult]]:
    """student -> cell name -> what the autograder recorded: scores, review flags, comments.

    What "the same results" means when comparing a parallel run with a sequential one.
    """
    from nbgrader.api import Gradebook  # type: ignore[import-untyped]

    found: dict[str, dict[str, CellResult]] = {}
    with Gradebook(db_url) as gradebook:
        for submission in gradebook.find_assignment(assignment).submissions:
            cells: dict[str, CellResult] = {}
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    cells[f"{notebook.name}/{grade.name}"] = CellResult(
                        grade.auto_score, grade.max_score, bool(grade.needs_manual_grade), None)
                for comment in notebook.comments:
                    cells[f"{notebook.name}/{comment.name}#comment"] = CellResult(None, None, None, comment.auto_comment)
            found[submission.student.id] = cells
    return found


# --- running nbgrader in this process ---------------------------------------------------------------


def run_nbgrader(argv: Sequence[str], configure: Callable[[Any], None] | None = None) -> int:
    """Run ``nbgrader <argv>`` in this process, from the current folder; return its exit status.

    In-process, as nbgrader's own tests do: importing nbgrader's apps costs about 2.5 s of
    CPU, paid once per process instead of once per student. ``configure`` may adjust the
    subcommand's app (``AutogradeApp``...) after its configuration is loaded, before it
    starts. nbgrader logs to stderr.
    """
    from jupyter_core.application import NoStart
    from nbgrader.apps.nbgraderapp import NbGraderApp  # type: ignore[import-untyped]

    app = NbGraderApp.instance()
    saved_path = list(sys.path)  # initialize() puts the current folder first on sys.path, each time
    try:
        app.initialize(list(argv))
        if configure is not None:
            configure(app.subapp)
        app.start()
        return 0
    except NoStart:
        return 0
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        app.reset()
        sys.path[:] = saved_path


@contextlib.contextmanager
def tools_on_path() -> Iterator[None]:
    """Put this Python's scripts folder first on PATH: nbgrader runs ``alembic`` by name
    when it creates a gradebook."""
    saved = os.environ.get("PATH")
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), saved or ""])
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = saved


def notebook_problem(path: Path) -> str | None:
    """Why the file at ``path`` is not a notebook nbgrader can grade, or None if it is one."""
    import nbformat

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return "is not a notebook: it is not UTF-8 text"
    except OSError as error:
        return f"cannot be read: {error.strerror}"
    try:
        json.loads(text)
    except ValueError as error:
        where = f" at line {error.lineno}" if isinstance(error, json.JSONDecodeError) else ""
        return f"is not a notebook: it is not JSON ({getattr(error, 'msg', error)}{where})"
    try:
        nb = nbformat.reads(text, as_version=4)  # type: ignore[no-untyped-call]
        nbformat.validate(nb)
    except Exception as error:  # nbformat raises several kinds; all mean the same here
        first = str(getattr(error, "message", error)).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"is not a valid notebook (nbformat: {first[:160]})"
    return None


# --- the course and its submissions ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Settings:
    """What nbgrader's configuration says about this run (nbgrader_config.py and the options)."""

    root: Path
    assignment: str
    nbgrader_args: tuple[str, ...]
    db_url: str
    course_id: str
    source: Path
    submitted: Path
    autograded: Path
    student_pattern: str
    excluded: frozenset[str]
    notebooks: tuple[str, ...] = ()

    def graded_folder(self, student: str) -> Path:
        return self.autograded / student / self.assignment


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _assignments_under(source: Path) -> list[str]:
    if not source.is_dir():
        return []
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def _resolve(course: Path, assignment: str, nbgrader_args: Sequence[str]) -> _Settings:
    """Read nbgrader's configuration as ``nbgrader autograde`` would, and check the assignment."""
    if not (course / "nbgrader_config.py").is_file():
        raise UsageError(f"{course} has no nbgrader_config.py: run this from the course folder")
    from nbgrader.apps.nbgraderapp import NbGraderApp

    app = NbGraderApp.instance()
    said = io.StringIO()
    saved_path = list(sys.path)
    try:
        with contextlib.chdir(course), contextlib.redirect_stderr(said), contextlib.redirect_stdout(said):
            app.initialize(["autograde", assignment, *nbgrader_args])
        autograde = app.subapp
        directories = autograde.coursedir
        extra = [arg for arg in autograde.extra_args if arg != assignment]
        settings = _Settings(
            root=Path(directories.root).resolve(), assignment=assignment, nbgrader_args=tuple(nbgrader_args),
            db_url=directories.db_url, course_id=directories.course_id,
            source=Path(directories.root, directories.source_directory).resolve(),
            submitted=Path(directories.root, directories.submitted_directory).resolve(),
            autograded=Path(directories.root, directories.autograded_directory).resolve(),
            student_pattern=directories.student_id or "*",
            excluded=frozenset(filter(None, (directories.student_id_exclude or "").split(","))))
        structure = directories.directory_structure
    except SystemExit:
        lines = [line for line in said.getvalue().splitlines() if line.strip()]
        raise UsageError("nbgrader autograde did not accept these options: "
                         + (lines[-1].split("] ", 1)[-1] if lines else " ".join(nbgrader_args))) from None
    finally:
        app.reset()
        sys.path[:] = saved_path
    if extra:
        raise UsageError(f"unexpected argument(s) {' '.join(extra)}: give one assignment, then options")
    if structure != _DEFAULT_STRUCTURE:
        raise UsageError(f"CourseDirectory.directory_structure is {structure!r}; this command supports "
                         f"nbgrader's default, {_DEFAULT_STRUCTURE!r}: use nbgrader autograde")
    known = _assignments_under(settings.source)
    if assignment not in known:
        raise UsageError(f"unknown assignment {assignment!r}: the assignments in "
                         f"{_relative(settings.source, settings.root)}/ are {', '.join(known) or 'none'}")
    return settings


def _sqlite_file(db_url: str, root: Path) -> Path | None:
    """The gradebook's file for an SQLite URL (relative paths are from the course folder);
    None for a database server. An in-memory database cannot be shared: refused."""
    from sqlalchemy.engine import make_url

    try:
        url = make_url(db_url)
    except Exception as error:
        raise UsageError(f"the gradebook URL {db_url!r} is not a database URL: {error}") from None
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:" or url.database.startswith("file::memory:"):
        raise UsageError(f"the gradebook {db_url!r} is in memory, which worker processes cannot share: "
                         "give a file, e.g. --db sqlite:///gradebook.db")
    return (root / url.database).resolve()


def _check_gradebook(settings: _Settings) -> _Settings:
    """The assignment must be in the gradebook (generate_assignment puts it there)."""
    from nbgrader.api import Gradebook, MissingEntry

    path = _sqlite_file(settings.db_url, settings.root)
    advice = (f"run `nbgrader generate_assignment {settings.assignment}` (or `python3 run.py release`) first"
              + (" with the same --db" if any(a.startswith(("--db", "--CourseDirectory.db_url")) for a in settings.nbgrader_args)
                 else ""))
    if path is not None and not path.is_file():
        raise UsageError(f"there is no gradebook at {_relative(path, settings.root)}: {advice}")
    try:
        with Gradebook(settings.db_url, settings.course_id) as gradebook:
            notebooks = tuple(nb.name for nb in gradebook.find_assignment(settings.assignment).notebooks)
    except MissingEntry:
        notebooks = ()
    except Exception as error:
        raise UsageError(f"cannot open the gradebook {settings.db_url}: {str(error).splitlines()[0]}") from None
    if not notebooks:
        raise UsageError(f"the gradebook has no assignment {settings.assignment!r}: {advice}")
    return dataclasses.replace(settings, notebooks=notebooks)


def _find_students(settings: _Settings) -> list[str]:
    """The students whose submissions of the assignment nbgrader would grade, after checking
    that every one of them is laid out as nbgrader expects and is a notebook."""
    root, submitted, assignment = settings.root, settings.submitted, settings.assignment
    place = f"{_relative(submitted, root)}/<student>/{assignment}/"
    if not submitted.is_dir():
        raise UsageError(f"no submissions: there is no {_relative(submitted, root)}/ folder (collect them into "
                         f"{place}, e.g. with nbgrader collect or zip_collect)")
    problems: list[str] = []
    students: list[str] = []
    for stray in sorted(submitted.glob("*.ipynb")):
        problems.append(f"{_relative(stray, root)} is not in a student's folder: move it to {place}")
    for folder in sorted(p for p in submitted.iterdir() if p.is_dir()):
        student = folder.name
        if student.startswith(".") or student in settings.excluded or not fnmatch.fnmatchcase(
                student, settings.student_pattern):
            continue  # (nbgrader's glob skips hidden folders too: .ipynb_checkpoints, ...)
        work = folder / assignment
        if not work.exists():
            # A student folder without this assignment: they have not handed it in, unless
            # the notebook was put straight into their folder ("01_processes (1).ipynb"...).
            names = (assignment.lower(), *(name.lower() for name in settings.notebooks))
            for stray in sorted(p for p in folder.glob("*.ipynb") if any(n in p.name.lower() for n in names)):
                problems.append(f"{_relative(stray, root)} is not in an assignment folder: move it to "
                                f"{_relative(work, root)}/{settings.notebooks[0]}.ipynb")
            continue
        if not work.is_dir():
            problems.append(f"{_relative(work, root)} is a file: it should be a folder holding "
                            f"{settings.notebooks[0]}.ipynb")
            continue
        for name in settings.notebooks:
            path = work / f"{name}.ipynb"
            if not path.is_file():
                others = sorted(p.name for p in work.glob("*.ipynb"))
                problems.append(f"{_relative(work, root)}/ has no {name}.ipynb"
                                + (f" but {', '.join(others)}: rename the student's notebook to {name}.ipynb"
                                   if others else ": put the student's notebook there"))
                continue
            problem = notebook_problem(path)
            if problem:
                problems.append(f"{_relative(path, root)} {problem}: ask the student for it again, or leave them "
                                f"out with --CourseDirectory.student_id_exclude={student}")
        students.append(student)
    if problems:
        raise UsageError("\n".join(problems))
    if not students:
        which = "" if settings.student_pattern == "*" else f" matching {settings.student_pattern!r}"
        raise UsageError(f"no submissions of {assignment}{which}: nothing in {place} (collect them first, "
                         "e.g. with nbgrader collect or zip_collect)")
    return students


# --- the shared gradebook --------------------------------------------------------------------------------


_busy_timeout_installed = False


def _install_busy_timeout() -> None:
    """Every SQLite connection this process opens waits up to a minute for a busy database."""
    global _busy_timeout_installed
    if _busy_timeout_installed:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def busy_timeout(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")

    event.listen(Engine, "connect", busy_timeout)
    _busy_timeout_installed = True


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def _copy_atomically(source: Path, target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(source, partial)
    os.replace(partial, target)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


class _SharedGradebook:
    """The gradebook as the processes of one run share it.

    ``session()`` (or ``acquire``/``release``) holds the run's file lock; sessions nest in a
    process. When a process's outermost session ends, the database file is quiet (nbgrader
    has closed its connections), and its state is recorded as the last one a grader wrote.
    When the next session begins, the file must still be in that state: anything else wrote
    to it meanwhile (a kernel, where no sandbox stops it). That is put back and reported.
    This is the hardened grader's gradebook check, which it leaves to the parallel grader
    (``HardenedExecute.shared_course``) since it cannot tell the run's graders from a kernel.
    """

    _COMPANIONS = ("-journal", "-wal")

    def __init__(self, db_url: str, root: Path, run_dir: Path) -> None:
        self.path = _sqlite_file(db_url, root)
        self._lock = FileLock(str(run_dir / "gradebook.lock"), timeout=_LOCK_TIMEOUT)
        self._copy = run_dir / "gradebook.last"
        self._state_file = run_dir / "gradebook.last.json"
        self._warnings = run_dir / "warnings"
        self._depth = 0
        self._since = 0.0
        self.held_seconds = 0.0
        self.verify = True
        _install_busy_timeout()

    def acquire(self) -> None:
        self._lock.acquire()
        self._depth += 1
        if self._depth == 1:
            self._since = time.monotonic()
            if self.verify:
                self._verify_and_restore()

    def release(self) -> None:
        self._depth -= 1
        try:
            if self._depth == 0:
                self.held_seconds += time.monotonic() - self._since
                self._record()
        finally:
            self._lock.release()

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def _state(self) -> dict[str, Any]:
        assert self.path is not None
        return {"digest": _digest(self.path),
                "companions": sorted(s for s in self._COMPANIONS if self.path.with_name(self.path.name + s).exists())}

    def _record(self) -> None:
        if self.path is None:
            return  # a database server: not a file a kernel could write
        state = self._state()
        with contextlib.suppress(OSError, ValueError):
            if json.loads(self._state_file.read_text()) == state:
                return
        if state["digest"] is not None:
            _copy_atomically(self.path, self._copy)
        _write_atomically(self._state_file, json.dumps(state))

    def _verify_and_restore(self) -> None:
        if self.path is None:
            return
        try:
            wanted = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return  # the run's first session: nothing recorded yet
        now = self._state()
        name = self.path.name
        changes = []
        if now["digest"] != wanted["digest"] and wanted["digest"] is not None:
            changes.append(f"{name} was {'deleted' if now['digest'] is None else 'changed'} (put back)")
            _copy_atomically(self._copy, self.path)
        for suffix in sorted(set(now["companions"]) - set(wanted["companions"])):
            changes.append(f"{name}{suffix} was created (removed)")
            with contextlib.suppress(OSError):
                self.path.with_name(name + suffix).unlink()
        if changes:
            # Which notebooks were running then: begun, not finished.
            running = sorted(p.name for p in (self._warnings.parent / "started").iterdir()
                             if not (self._warnings.parent / "done" / f"{p.name}.json").exists())
            warning = (f"{'; '.join(changes)}: something other than the graders wrote to the gradebook while "
                       f"{', '.join(running) or 'no one'} was being graded; review those submissions")
            _write_atomically(self._warnings / f"{time.time_ns()}-{os.getpid()}.txt", warning)
            print(f"warning: {warning}", file=sys.stderr, flush=True)

    def warnings(self) -> list[str]:
        return [path.read_text() for path in sorted(self._warnings.glob("*.txt"))]


def _share_gradebook_sessions(shared: _SharedGradebook) -> None:
    """Make every nbgrader ``Gradebook`` of this process hold the run's lock while it is open.

    nbgrader opens and closes a ``Gradebook`` around each step that reads or writes (a
    ``with`` block, or a preprocessor's ``preprocess``), and offers no hook: wrap its two
    methods, in the worker processes only.
    """
    from nbgrader import api  # type: ignore[import-untyped]

    original_init, original_close = api.Gradebook.__init__, api.Gradebook.close

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        shared.acquire()
        try:
            original_init(self, *args, **kwargs)
        except BaseException:
            shared.release()
            raise
        self._course_shared_session = True

    def close(self: Any) -> None:
        try:
            original_close(self)
        finally:
            if self.__dict__.pop("_course_shared_session", False):  # once, however often close() is called
                shared.release()

    setattr(api.Gradebook, "__init__", __init__)
    setattr(api.Gradebook, "close", close)


# --- before the run, and putting students back ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Prior:
    """A student's gradebook entries for the assignment before the run."""

    student_existed: bool
    submission: dict[str, Any] | None


def _read_prior(gradebook: Any, assignment: str, student: str) -> _Prior:
    from nbgrader.api import MissingEntry

    try:
        gradebook.find_student(student)
    except MissingEntry:
        return _Prior(False, None)
    try:
        submission = gradebook.find_submission(assignment, student)
    except MissingEntry:
        return _Prior(True, None)
    return _Prior(True, {
        "timestamp": submission.timestamp,
        "extension": submission.extension,
        "notebooks": {nb.name: {
            "flagged": nb.flagged,
            "late_submission_penalty": nb.late_submission_penalty,
            "grades": {g.name: (g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade) for g in nb.grades},
            "comments": {c.name: (c.auto_comment, c.manual_comment) for c in nb.comments},
        } for nb in submission.notebooks},
    })


def _restore_prior(gradebook: Any, assignment: str, student: str, prior: _Prior) -> None:
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
                grade.auto_score, grade.manual_score, grade.extra_credit, grade.needs_manual_grade = saved["grades"][grade.name]
        for comment in notebook.comments:
            if comment.name in saved["comments"]:
                comment.auto_comment, comment.manual_comment = saved["comments"][comment.name]
    gradebook.db.commit()


def _remove_tree(path: Path) -> None:
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


def _stat_tree(folder: Path) -> dict[str, tuple[int, int]]:
    found = {}
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            with contextlib.suppress(OSError):
                if path.is_file():
                    info = path.stat()
                    found[str(path.relative_to(folder))] = (info.st_size, info.st_mtime_ns)
    return found


# --- in a worker process -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _WorkerSpec:
    """What every worker needs to know, sent once when it starts (it must pickle: spawn)."""

    settings: _Settings
    run_dir: Path


@dataclasses.dataclass
class _Worker:
    spec: _WorkerSpec
    shared: _SharedGradebook
    log: Path


_worker: _Worker | None = None  # this process's state, when it is a worker


def _init_worker(spec: _WorkerSpec) -> None:
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
    descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.close(descriptor)
    os.chdir(spec.settings.root)
    shared = _SharedGradebook(spec.settings.db_url, spec.settings.root, spec.run_dir)
    _share_gradebook_sessions(shared)
    _worker = _Worker(spec, shared, log)


def _log_size(log: Path) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    return log.stat().st_size


def _error_reason(log: str) -> str:
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


def _grade_student(student: str) -> StudentResult:
    """Grade one student with nbgrader's own AutogradeApp, in this worker process."""
    worker = _worker
    assert worker is not None, "_grade_student runs in a worker made by grade_class"
    settings, run_dir = worker.spec.settings, worker.spec.run_dir
    started = time.monotonic()
    held_before = worker.shared.held_seconds
    graded = settings.graded_folder(student)
    # Keep the graded folder of an earlier run, in case this one is stopped half-way; then
    # mark the student as begun. Nothing of theirs changes before the mark.
    previous = run_dir / "previous" / student
    if graded.exists():
        partial = run_dir / "previous" / f"{student}.partial"
        shutil.copytree(graded, partial, symlinks=True)
        os.replace(partial, previous)
    (run_dir / "started" / student).touch()
    notebooks = [graded / f"{name}.ipynb" for name in settings.notebooks]
    before = [path.stat().st_mtime_ns if path.exists() else None for path in notebooks]
    log_start = _log_size(worker.log)
    try:
        status = run_nbgrader(
            # shared_course: the hardened grader leaves the gradebook and the other students'
            # folders, which the run's other graders write meanwhile, to this module's checks.
            ["autograde", settings.assignment, *settings.nbgrader_args, "--HardenedExecute.shared_course=True"],
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
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(settings.db_url, settings.course_id) as gradebook:
            with contextlib.suppress(MissingEntry):
                submission = gradebook.find_submission(settings.assignment, student)
                score, max_score = float(submission.score), float(submission.max_score)
        for path in notebooks:
            with contextlib.suppress(OSError, ValueError):
                flagged |= bool(json.loads(path.read_text()).get("metadata", {}).get("course_grading", {}).get("flags"))
        after = [path.stat().st_mtime_ns if path.exists() else None for path in notebooks]
        skipped = after == before and None not in before
        result = StudentResult(student, "skipped" if skipped else "graded", score, max_score, flagged,
                               message="graded before; --force regrades" if skipped else "")
    else:
        result = StudentResult(student, "error", message=_error_reason(log))
    result = dataclasses.replace(result, seconds=round(time.monotonic() - started, 2),
                                 lock_seconds=worker.shared.held_seconds - held_before, files=_stat_tree(graded))
    # Finished, whatever happens to this process from here on: the main process keeps it.
    _write_atomically(run_dir / "done" / f"{student}.json", json.dumps(dataclasses.asdict(result)))
    _remove_tree(previous)
    return result


# --- the main process ------------------------------------------------------------------------------------------


class _Progress:
    """How far the run is: a bar redrawn in place on a terminal; elsewhere (a log, CI, a
    test reading the output) a line per finished student."""

    def __init__(self, out: TextIO, total: int, label: str) -> None:
        self.out, self.total, self.label = out, total, label
        self.done = 0
        self.errors = 0
        self.started = time.monotonic()
        self.live = out.isatty()

    def update(self, result: StudentResult | None = None) -> None:
        if result is not None:
            self.done += 1
            self.errors += result.status == "error"
            if not self.live:
                print(f"[{self.done}/{self.total}] {result.student}: {result.brief()}", file=self.out, flush=True)
        if self.live:
            elapsed = time.monotonic() - self.started
            filled = int(24 * self.done / self.total)
            left = (f" · about {_clock(elapsed / self.done * (self.total - self.done))} left"
                    if 0 < self.done < self.total else "")
            errors = f" · {self.errors} error(s)" if self.errors else ""
            self.out.write(f"\r{self.label} [{'#' * filled}{'.' * (24 - filled)}] {self.done}/{self.total}"
                           f"{errors} · {_clock(elapsed)}{left}\x1b[K")
            self.out.flush()

    def close(self) -> None:
        if self.live:
            self.out.write("\n")
            self.out.flush()


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"


def default_jobs() -> int:
    """One worker per CPU this process may use (affinity and cgroup-aware where Python is)."""
    return usable_cpu_count()


@contextlib.contextmanager
def _run_lock(settings: _Settings) -> Iterator[None]:
    """One run at a time per gradebook: two would each take the other's writes for tampering."""
    path = _sqlite_file(settings.db_url, settings.root)
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
    from grader.processes import end_all, remove_shared_memory

    import psutil  # type: ignore[import-untyped]

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
    settings = _resolve(course.resolve(), assignment, nbgrader_args)
    with tools_on_path(), _run_lock(settings):
        settings = _check_gradebook(settings)
        students = _find_students(settings)
        jobs = min(jobs or default_jobs(), len(students))
        run_dir = Path(tempfile.mkdtemp(prefix="course-classgrade-"))
        try:
            for name in ("logs", "previous", "started", "done", "warnings"):
                (run_dir / name).mkdir()
            return _grade(settings, students, jobs, run_dir, out)
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)


def _grade(settings: _Settings, students: list[str], jobs: int, run_dir: Path, out: TextIO) -> ClassReport:
    from nbgrader.api import Gradebook

    from grader_kernel import privileges
    from grader.processes import ProcessSet

    shared = _SharedGradebook(settings.db_url, settings.root, run_dir)
    with shared.session(), Gradebook(settings.db_url, settings.course_id) as gradebook:
        priors = {student: _read_prior(gradebook, settings.assignment, student) for student in students}
    # The course-files guard, around the whole run: the other students' files (which the
    # hardened grader does not compare around each notebook when graders share the course),
    # and source/, release/ and the config if a notebook is ended before its own guard looks.
    # Each notebook's guard still checks those; on Linux the sandbox keeps kernels out anyway.
    run_guard = CourseGuard(settings.root, None, [settings.graded_folder(s) for s in students])
    linux = sys.platform.startswith("linux")
    was_subreaper = False
    if linux:
        with contextlib.suppress(OSError):
            was_subreaper = privileges.is_child_subreaper()
            # Orphans of a worker that is ended come here, and are ended in turn.
            privileges.set_child_subreaper(True)
    print(f"Grading {settings.assignment} for {len(students)} student(s), {jobs} at a time "
          f"(a worker process each, with the course's hardened grader).", file=out, flush=True)
    progress = _Progress(out, len(students), settings.assignment)
    results: dict[str, StudentResult] = {}
    futures: dict[concurrent.futures.Future[StudentResult], str] = {}
    stopped_because = ""
    interrupted = False
    started = time.monotonic()
    # spawn: each worker is a fresh interpreter that imports what it needs. It inherits
    # none of this process's threads or locks (fork would copy them mid-use), and it
    # behaves the same on Linux, macOS and Windows.
    context = multiprocessing.get_context("spawn")
    spec = _WorkerSpec(settings, run_dir)
    executor = concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context,
                                                      initializer=_init_worker, initargs=(spec,))
    # Made after the executor (whose resource tracker is not ours to end) and before its
    # workers start: they, and everything below them, are this run's processes.
    family = ProcessSet(None, lambda: ())
    try:
        futures = {executor.submit(_grade_student, student): student for student in students}
        pending = set(futures)
        progress.update()
        while pending:
            # Wake up every second to move the clock, and at once when a student is done.
            done, pending = concurrent.futures.wait(pending, timeout=1.0,
                                                    return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                try:
                    result = future.result()
                except BrokenProcessPool as error:
                    stopped_because = f"a grading worker died ({error})"
                    raise
                except Exception as error:  # not raised by the worker's code, which returns a result
                    result = StudentResult(futures[future], "error", message=f"{type(error).__name__}: {error}")
                results[result.student] = result
                progress.update(result)
            progress.update()
    except (KeyboardInterrupt, BrokenProcessPool) as error:
        if isinstance(error, KeyboardInterrupt):
            interrupted = True
            stopped_because = "stopped by Ctrl-C"
        with _sigint_ignored():
            progress.close()
            print(f"Stopping: {stopped_because}; ending the workers and their kernels...", file=out, flush=True)
            for future in futures:
                future.cancel()
            _end_everything(family)
            executor.shutdown(wait=True, cancel_futures=True)
            # A worker ended in the middle of a gradebook session leaves it to be rolled
            # back (SQLite's journal) when it is next opened: not tampering.
            shared.verify = False
            _finish_stopped(settings, students, priors, results, run_dir, shared, stopped_because)
    else:
        progress.close()
        executor.shutdown(wait=True)
    finally:
        if linux and not was_subreaper:
            with contextlib.suppress(OSError):
                privileges.set_child_subreaper(False)
    seconds = time.monotonic() - started
    with _sigint_ignored():
        warnings = shared.warnings() + _check_after(settings, results, run_guard)
    report = ClassReport(settings.assignment, jobs, round(seconds, 2),
                         [results[s] for s in students], interrupted=interrupted, warnings=warnings)
    print("", file=out)
    print(report.table(), file=out)
    _print_epilogue(report, stopped_because, out)
    return report


def _finish_stopped(settings: _Settings, students: list[str], priors: Mapping[str, _Prior],
                    results: dict[str, StudentResult], run_dir: Path, shared: _SharedGradebook, why: str) -> None:
    """After the workers were ended: keep who was finished, put back who was begun."""
    from nbgrader.api import Gradebook

    for student in students:
        if student in results:
            continue
        done = run_dir / "done" / f"{student}.json"
        if done.is_file():  # finished, but the result had not reached this process
            data = json.loads(done.read_text())
            data["files"] = {name: tuple(value) for name, value in data["files"].items()}
            results[student] = StudentResult(**data)
            continue
        if (run_dir / "started" / student).exists():
            with shared.session(), Gradebook(settings.db_url, settings.course_id) as gradebook:
                _restore_prior(gradebook, settings.assignment, student, priors[student])
            graded = settings.graded_folder(student)
            _remove_tree(graded)
            previous = run_dir / "previous" / student
            if previous.is_dir():
                graded.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(previous, graded, symlinks=True)
            message = f"{why} while being graded; left as before the run"
        else:
            message = f"{why} before its turn"
        results[student] = StudentResult(student, "not graded", message=message)


def _check_after(settings: _Settings, results: Mapping[str, StudentResult], run_guard: CourseGuard) -> list[str]:
    """The checks a sequential run makes around each notebook, for what a parallel run
    could only check at its end: the course's files, and each graded folder as its grader left it."""
    warnings = [f"{change} — while the class was graded; review the submissions graded in this run"
                for change in run_guard.check_and_restore()]
    run_guard.close()
    for result in results.values():
        if result.status not in ("graded", "skipped"):
            continue
        now = _stat_tree(settings.graded_folder(result.student))
        if now != result.files:
            changed = sorted(set(now) ^ set(result.files) | {n for n in now if now[n] != result.files.get(n)})
            warnings.append(f"{_relative(settings.graded_folder(result.student), settings.root)}: "
                            f"{', '.join(changed[:5])} changed after its grader finished (by another notebook of this "
                            f"run?): grade {result.student} again with --student={result.student} --force, and review")
    return warnings


def _print_epilogue(report: ClassReport, stopped_because: str, out: TextIO) -> None:
    for result in report.results:
        if result.status == "error":
            print(f"\n{result.student}: nbgrader could not grade this submission: {result.message}", file=out)
    not_graded = [r.student for r in report.results if r.status == "not graded"]
    if not_graded:
        print(f"\nNot graded, {stopped_because}: {', '.join(not_graded)}. Each is as it was before this run, in "
              "the gradebook and in autograded/ (not graded at all, or its earlier grades). Run the same command "
              "again to grade them.", file=out)
    for warning in report.warnings:
        print(f"\nwarning: {warning}", file=out)
    out.flush()


# --- the command ------------------------------------------------------------------------------------------------


def _parse(argv: Sequence[str]) -> tuple[str, int | None, list[str]]:
    """``<assignment> [--jobs N] [nbgrader options]``: ours, and nbgrader's untouched."""
    if not argv or argv[0].startswith("-"):
        raise UsageError("give the assignment first, e.g. `python3 run.py autograde 01_processes --jobs 4`")
    assignment, rest = argv[0], list(argv[1:])
    jobs: int | None = None
    passed: list[str] = []
    i = 0
    while i < len(rest):
        arg = rest[i]
        value: str | None = None
        if arg in ("--jobs", "-j"):
            if i + 1 >= len(rest):
                raise UsageError(f"{arg} needs a number of worker processes, e.g. {arg} 4")
            value, i = rest[i + 1], i + 2
        elif arg.startswith("--jobs="):
            value, i = arg.split("=", 1)[1], i + 1
        else:
            passed.append(arg)
            i += 1
            continue
        try:
            jobs = int(value)
        except ValueError:
            raise UsageError(f"--jobs wants a whole number of worker processes, not {value!r}") from None
        if jobs < 1:
            raise UsageError(f"--jobs must be 1 or more, not {jobs}")
    return assignment, jobs, passed


def main(argv: Sequence[str] | None = None) -> int:
    """The command: exit status 0 (all graded), 1 (some could not be), 2 (bad input, nothing
    changed) or 130 (stopped by Ctrl-C)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if any(arg in ("-h", "--help") for arg in args):
        print(USAGE)
        return 0
    try:
        assignment, jobs, nbgrader_args = _parse(args)
        report = grade_class(assignment, nbgrader_args, jobs=jobs)
    except UsageError as error:
        for line in str(error).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nStopped before grading began: nothing was changed.", file=sys.stderr)
        return 130
    return report.exit_status


if __name__ == "__main__":
    sys.exit(main())
