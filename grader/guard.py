"""The course's own files, checked around each notebook: nothing a submission runs may
change them.

Where the kernel runs contained (Linux: its own user and Landlock) it cannot write them
in the first place; everywhere, the grader notes their state before the notebook runs,
compares afterwards, puts back what changed from its copies, and reports it:

* ``source/``, ``release/``, ``nbgrader_config.py`` and the gradebook are copied and
  compared byte for byte;
* other students' folders in ``submitted/``, ``autograded/`` and ``feedback/`` are compared
  by size and modification time (copying a whole class for every notebook would cost too
  much); a change is reported, not undone.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

__all__ = ["CourseGuard"]

_COPIED = ("source", "release", "nbgrader_config.py")
_WATCHED = ("submitted", "autograded", "feedback")


def _files(path: Path) -> Iterable[Path]:
    if path.is_file():
        yield path
    elif path.is_dir():
        for folder, _, names in os.walk(path):
            for name in names:
                yield Path(folder) / name


def _digest(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


class CourseGuard:
    """Before/after check of the course files around one notebook.

    ``own``: the submission's own folders, which the notebook may change.
    """

    def __init__(self, root: Path, gradebook: Path | None, own: Iterable[Path], shared: bool = False) -> None:
        self.root = root.resolve()
        self.own = [p.resolve() for p in own]
        # ``shared``: other graders write the gradebook and the other students' folders while
        # this notebook runs (parallel grading), so only what no grader writes is compared.
        self.shared = shared
        copied = [self.root / name for name in _COPIED]
        if gradebook is not None and not shared:
            copied += [gradebook, *(gradebook.with_name(gradebook.name + suffix) for suffix in ("-journal", "-wal"))]
        self._backup = Path(tempfile.mkdtemp(prefix="course-grading-backup-"))
        self._digests: dict[Path, str] = {}
        for top in copied:
            for path in _files(top):
                self._digests[path] = _digest(path)
                target = self._backup / path.relative_to("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
        self._copied = copied
        self._stats = self._stat_watched()

    def _stat_watched(self) -> dict[Path, tuple[int, int]]:
        stats: dict[Path, tuple[int, int]] = {}
        if self.shared:
            return stats
        for name in _WATCHED:
            for path in _files(self.root / name):
                if any(own == path or own in path.parents for own in self.own):
                    continue
                with contextlib.suppress(OSError):
                    info = path.stat()
                    stats[path] = (info.st_size, info.st_mtime_ns)
        return stats

    def check_and_restore(self) -> list[str]:
        """What changed since the guard was made; copied files are put back, new ones removed."""
        changes: list[str] = []
        now = {path for top in self._copied for path in _files(top)}
        for path, digest in self._digests.items():
            if path not in now or _digest(path) != digest:
                changes.append(f"{path.relative_to(self.root) if self.root in path.parents else path} was "
                               f"{'deleted' if path not in now else 'changed'} (put back)")
                with contextlib.suppress(OSError):
                    path.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(self._backup / path.relative_to("/"), path)
        for path in sorted(now - set(self._digests)):
            changes.append(f"{path.relative_to(self.root) if self.root in path.parents else path} was created (removed)")
            with contextlib.suppress(OSError):
                path.unlink()
        after = self._stat_watched()
        for path in sorted(set(after) | set(self._stats)):
            if after.get(path) != self._stats.get(path):
                changes.append(f"{path.relative_to(self.root)} was {'changed' if path in after else 'deleted'} "
                               "(another student's file: not put back)")
        return changes

    def close(self) -> None:
        shutil.rmtree(self._backup, ignore_errors=True)
