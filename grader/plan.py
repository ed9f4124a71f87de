"""What a class grading run will do: nbgrader's settings for it, and the submissions it will
grade, after checking every input (a bad one is refused before anything changes)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fnmatch
import io
import json
from collections.abc import Sequence
from pathlib import Path

from grader.database import first_line, problem_with, shown
from grader.gradebook import sqlite_file
from grader.nbgrader_run import assignments, describe_refusal, initialized

__all__ = ["Settings", "UsageError", "check_gradebook", "find_students", "gradebook_file", "needs_grading",
           "notebook_problem", "relative", "resolve"]

_DEFAULT_STRUCTURE = "{nbgrader_step}/{student_id}/{assignment_id}"


class UsageError(Exception):
    """Bad input: what is wrong and how to fix it, one line per problem. Nothing was changed."""


@dataclasses.dataclass(frozen=True)
class Settings:
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
    force: bool = False
    notebook_pattern: str = "*"  # nbgrader's --notebook
    ignore: tuple[str, ...] = ()  # CourseDirectory.ignore

    def graded_folder(self, student: str) -> Path:
        return self.autograded / student / self.assignment


def relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


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
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # nbformat raises several kinds; all mean the same here
        said = str(getattr(error, "message", error)).strip()
        first = said.splitlines()[0] if said else type(error).__name__
        return f"is not a valid notebook (nbformat: {first[:160]})"
    return None


def resolve(course: Path, assignment: str, nbgrader_args: Sequence[str]) -> Settings:
    """Read nbgrader's configuration as ``nbgrader autograde`` would, and check the assignment."""
    if not (course / "nbgrader_config.py").is_file():
        raise UsageError(f"{course} has no nbgrader_config.py: run this from the course folder")
    said = io.StringIO()
    try:
        with contextlib.chdir(course), contextlib.redirect_stderr(said), contextlib.redirect_stdout(said), \
                initialized(["autograde", assignment, *nbgrader_args]) as app:
            autograde = app.subapp
            directories = autograde.coursedir
            extra = [arg for arg in autograde.extra_args if arg != assignment]
            from nbgrader.converters import Autograde  # type: ignore[import-untyped]

            converter = Autograde(coursedir=directories, parent=autograde)
            settings = Settings(
                root=Path(directories.root).resolve(), assignment=assignment, nbgrader_args=tuple(nbgrader_args),
                db_url=directories.db_url, course_id=directories.course_id,
                source=Path(directories.root, directories.source_directory).resolve(),
                submitted=Path(directories.root, directories.submitted_directory).resolve(),
                autograded=Path(directories.root, directories.autograded_directory).resolve(),
                student_pattern=directories.student_id or "*",
                excluded=frozenset(filter(None, (directories.student_id_exclude or "").split(","))),
                force=bool(converter.force), notebook_pattern=directories.notebook_id or "*",
                ignore=tuple(directories.ignore))
            structure = directories.directory_structure
    except SystemExit:
        raise UsageError("nbgrader autograde did not accept these options: "
                         + describe_refusal(said, " ".join(nbgrader_args))) from None
    problem = problem_with(settings.db_url)
    if problem:
        raise UsageError(problem)
    if extra:
        raise UsageError(f"unexpected argument(s) {' '.join(extra)}: give one assignment, then options")
    if structure != _DEFAULT_STRUCTURE:
        raise UsageError(f"CourseDirectory.directory_structure is {structure!r}; this command supports "
                         f"nbgrader's default, {_DEFAULT_STRUCTURE!r}: use nbgrader autograde")
    known = assignments(settings.source)
    if assignment not in known:
        raise UsageError(f"unknown assignment {assignment!r}: the assignments in "
                         f"{relative(settings.source, settings.root)}/ are {', '.join(known) or 'none'}")
    return settings


def gradebook_file(settings: Settings) -> Path | None:
    """The gradebook's file (None: a database server), or a UsageError."""
    try:
        return sqlite_file(settings.db_url, settings.root)
    except ValueError as error:
        raise UsageError(str(error)) from None


def check_gradebook(settings: Settings) -> Settings:
    """The assignment must be in the gradebook (generate_assignment puts it there)."""
    from nbgrader.api import Gradebook, MissingEntry  # type: ignore[import-untyped]

    path = gradebook_file(settings)
    advice = (f"run `nbgrader generate_assignment {settings.assignment}` (or `python3 run.py release`) first"
              + (" with the same --db" if any(a.startswith(("--db", "--CourseDirectory.db_url"))
                                              for a in settings.nbgrader_args) else ""))
    if path is not None and not path.is_file():
        raise UsageError(f"there is no gradebook at {relative(path, settings.root)}: {advice}")
    try:
        with Gradebook(settings.db_url, settings.course_id) as gradebook:
            notebooks = tuple(nb.name for nb in gradebook.find_assignment(settings.assignment).notebooks)
    except MissingEntry:
        notebooks = ()
    except Exception as error:
        raise UsageError(f"cannot open the gradebook {shown(settings.db_url)}: {first_line(error)}") from None
    if not notebooks:
        raise UsageError(f"the gradebook has no assignment {settings.assignment!r}: {advice}")
    return dataclasses.replace(settings, notebooks=notebooks)


def _timestamp(folder: Path) -> datetime.datetime | None:
    """The time in ``folder``'s timestamp.txt, as nbgrader reads it (None: none, or unreadable)."""
    from nbgrader.utils import parse_utc  # type: ignore[import-untyped]

    try:
        text = (folder / "timestamp.txt").read_text().strip()
        return parse_utc(text) if text else None
    except (OSError, ValueError):
        return None


def needs_grading(settings: Settings, student: str) -> bool:
    """Whether ``nbgrader autograde`` would grade this student now (its
    ``BaseConverter.init_destination``): never graded, ``--force``, or handed in again since."""
    graded = settings.graded_folder(student)
    if settings.notebook_pattern == "*":
        if not graded.exists():
            return True
    else:
        handed_in = (settings.submitted / student / settings.assignment).glob(f"{settings.notebook_pattern}.ipynb")
        if any(not (graded / path.name).exists() for path in handed_in):
            return True
    if settings.force:
        return True
    new, old = _timestamp(settings.submitted / student / settings.assignment), _timestamp(graded)
    return new is not None and old is not None and new > old


def find_students(settings: Settings) -> list[str]:
    """The students whose submissions of the assignment nbgrader would grade, after checking
    that every one of them is laid out as nbgrader expects and is a notebook."""
    root, submitted, assignment = settings.root, settings.submitted, settings.assignment
    place = f"{relative(submitted, root)}/<student>/{assignment}/"
    if not submitted.is_dir():
        raise UsageError(f"no submissions: there is no {relative(submitted, root)}/ folder (collect them into "
                         f"{place}, e.g. with nbgrader collect or zip_collect)")
    problems: list[str] = []
    students: list[str] = []
    for stray in sorted(submitted.glob("*.ipynb")):
        problems.append(f"{relative(stray, root)} is not in a student's folder: move it to {place}")
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
                problems.append(f"{relative(stray, root)} is not in an assignment folder: move it to "
                                f"{relative(work, root)}/{settings.notebooks[0]}.ipynb")
            continue
        if not work.is_dir():
            problems.append(f"{relative(work, root)} is a file: it should be a folder holding "
                            f"{settings.notebooks[0]}.ipynb")
            continue
        for name in settings.notebooks:
            path = work / f"{name}.ipynb"
            if not path.is_file():
                others = sorted(p.name for p in work.glob("*.ipynb"))
                problems.append(f"{relative(work, root)}/ has no {name}.ipynb"
                                + (f" but {', '.join(others)}: rename the student's notebook to {name}.ipynb"
                                   if others else ": put the student's notebook there"))
                continue
            problem = notebook_problem(path)
            if problem:
                problems.append(f"{relative(path, root)} {problem}: ask the student for it again, or leave them "
                                f"out with --CourseDirectory.student_id_exclude={student}")
        students.append(student)
    if problems:
        raise UsageError("\n".join(problems))
    if not students:
        which = "" if settings.student_pattern == "*" else f" matching {settings.student_pattern!r}"
        raise UsageError(f"no submissions of {assignment}{which}: nothing in {place} (collect them first, "
                         "e.g. with nbgrader collect or zip_collect)")
    return students
