"""The submission folder's files during grading: modules removed, nbgrader's own files held and given back."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

__all__ = ["give_back", "gradebook_path", "hold", "remove_extra_files", "remove_new_files", "shadows_imports"]

# What Python can import from the notebook's folder (its own suffixes, and those of other
# versions and platforms): a submitted module of a name the tests import would replace it.
_IMPORT_SUFFIXES = (".py", ".pyc", ".pyo", ".pyw", ".pyd", ".so")
# nbgrader's own files in the autograded folder, besides the assignment's notebooks.
_NBGRADER_FILES = ("timestamp.txt",)


def shadows_imports(relative: str) -> bool:
    """Whether a file at ``relative`` in the notebook's folder is one Python could import
    there (a module, a compiled module, or a file of a package)."""
    return relative.lower().endswith(_IMPORT_SUFFIXES)


def remove_extra_files(submission: Path, source: Path, handed_in: Iterable[str] = ()) -> list[str]:
    """Remove the modules submitted beside the notebook, which could shadow those the tests
    import; return their paths (relative, sorted). Other files stay, as nbgrader keeps them
    (data, timestamp.txt, the other notebooks)."""
    if not submission.is_dir():
        return []
    # The source folder's files (nbgrader copied them over the student's) and those the
    # instructor lets students hand in (``handed_in``: Autograde.exclude_overwriting) are the course's.
    allowed = {p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()}
    allowed |= set(handed_in)
    removed = []
    for path in sorted(submission.rglob("*"), reverse=True):
        relative = path.relative_to(submission).as_posix()
        if path.is_dir() and not path.is_symlink():
            continue
        if shadows_imports(relative) and relative not in allowed:
            removed.append(relative)
            with contextlib.suppress(OSError):
                path.unlink()
    return sorted(removed)


def remove_new_files(submission: Path, initial: set[Path]) -> None:
    """Remove what was written in the submission folder since it held ``initial`` (paths
    relative to it): after a kernel death, what the dead kernel wrote goes with it."""
    for path in sorted(submission.rglob("*"), reverse=True):
        relative = path.relative_to(submission)
        if relative in initial:
            continue
        with contextlib.suppress(OSError):
            path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()


def hold(submission: Path, notebook: str) -> Path | None:
    """Move nbgrader's files (the submission time, the assignment's notebooks other than
    ``notebook``) out of the submission folder (see :func:`give_back`): to a folder only the
    grader can read, returned, or None if there was nothing to hold."""
    files = [path for path in submission.glob("*") if path.is_file() and not path.is_symlink()
             and (path.name in _NBGRADER_FILES or (path.suffix == ".ipynb" and path.name != f"{notebook}.ipynb"))]
    if not files:
        return None
    held = Path(tempfile.mkdtemp(prefix="course-grading-held-"))
    for path in files:
        shutil.move(path, held / path.name)
    return held


def give_back(held: Path | None, submission: Path) -> None:
    """Put the held files back, over anything the notebook wrote in their place."""
    if held is None:
        return
    for path in held.iterdir():
        target = submission / path.name
        with contextlib.suppress(OSError):
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
        shutil.move(path, target)
    shutil.rmtree(held, ignore_errors=True)


def gradebook_path(db_url: str) -> Path | None:
    """The gradebook's file for an SQLite ``db_url``; None for any other database."""
    prefix = "sqlite:///"
    if db_url.startswith(prefix):
        return Path(db_url[len(prefix):]).resolve()
    return None
