"""The course's files and gradebook, guarded: nothing a submission runs may change them.

Where the kernel runs contained (Linux: its own user and Landlock) it cannot write them
in the first place; everywhere, :class:`CourseGuard` notes their state when it is made,
compares when asked, puts back what changed, and reports it:

* ``source/``, ``release/`` and ``nbgrader_config.py`` are copied and compared byte for byte;
* the gradebook is compared with the state the run's last gradebook session left
  (:mod:`grader.gradebook`), so that the run's own writes, from any of its processes,
  are not taken for tampering;
* the students' folders in ``submitted/``, ``autograded/`` and ``feedback/`` are compared
  by size and modification time (copying a whole class for every notebook would cost too
  much), except those the run's graders are writing (their *claims*), and those that a
  grader finished meanwhile are compared with what it left; a change is reported, not undone.

A grading run is one or more processes sharing a folder (:class:`GradingRun`): sequential
``nbgrader autograde`` is a run of its own process; ``run.py autograde`` makes one folder
its workers join. The guard's rules are the same for both.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from grader.gradebook import GradebookSessions, install_sessions, sqlite_file

__all__ = ["CourseGuard", "GradingRun", "current_run", "join_run", "leave_run"]

_COPIED = ("source", "release", "nbgrader_config.py")
_WATCHED = ("submitted", "autograded", "feedback")

Stats = dict[str, tuple[int, int]]  # file (relative to a folder) -> (size, modification time in ns)


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


def stat_tree(folder: Path) -> Stats:
    """Every file under ``folder``: its size and modification time."""
    found: Stats = {}
    for path in _files(folder):
        with contextlib.suppress(OSError):
            info = path.stat()
            found[str(path.relative_to(folder))] = (info.st_size, info.st_mtime_ns)
    return found


class GradingRun:
    """What the processes of one grading run share through ``folder``: the gradebook's
    sessions, and the folders the run's graders claim while they write them.

    Without ``folder``, a run of this process alone, in a temporary folder.
    """

    def __init__(self, folder: Path | None = None) -> None:
        if folder is None:
            folder = Path(tempfile.mkdtemp(prefix="course-grading-run-"))
            atexit.register(shutil.rmtree, folder, True)
        self.folder = folder
        (folder / "claims").mkdir(parents=True, exist_ok=True)
        self._sessions: dict[Path | None, GradebookSessions] = {}
        self._held: dict[Path, int] = {}
        # Folders being graded elsewhere for this run (a coordinator's students on its workers).
        self.elsewhere: Callable[[], list[str]] = list

    def gradebook(self, path: Path | None) -> GradebookSessions:
        """The sessions of the gradebook at ``path`` (None: a database server)."""
        path = None if path is None else path.resolve()
        if path not in self._sessions:
            self._sessions[path] = GradebookSessions(path, self.folder, self.busy)
        return self._sessions[path]

    def gradebook_at(self, db_url: str) -> GradebookSessions:
        try:
            path = sqlite_file(db_url, Path.cwd())
        except ValueError:
            path = None  # in memory: no file another process could see
        return self.gradebook(path)

    def _claim_file(self, folder: Path) -> Path:
        return self.folder / "claims" / f"{hashlib.sha256(str(folder).encode()).hexdigest()[:24]}.json"

    @contextlib.contextmanager
    def claim(self, folder: Path) -> Iterator[None]:
        """``folder`` is being written by one of the run's graders; when it lets go, what it
        left there is recorded. Claims nest within a process."""
        folder = folder.resolve()
        depth = self._held.get(folder, 0)
        self._held[folder] = depth + 1
        if depth == 0:
            self._write_claim(folder, None)
        try:
            yield
        finally:
            self._held[folder] -= 1
            if self._held[folder] == 0:
                del self._held[folder]
                self._write_claim(folder, stat_tree(folder))

    def _write_claim(self, folder: Path, left: Stats | None) -> None:
        path = self._claim_file(folder)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps({"folder": str(folder), "left": left}))
        os.replace(partial, path)

    def claims(self) -> dict[Path, Stats | None]:
        """Every folder the run claimed: what its grader left there, or None while it writes."""
        found: dict[Path, Stats | None] = {}
        for path in self.folder.glob("claims/*.json"):
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(path.read_text())
                left = data["left"]
                found[Path(data["folder"])] = None if left is None else {k: tuple(v) for k, v in left.items()}
        return found

    def busy(self) -> list[str]:
        """The folders being written now, by any process of the run, or graded elsewhere for it."""
        return sorted({str(folder) for folder, left in self.claims().items() if left is None} | set(self.elsewhere()))


_current: GradingRun | None = None


def join_run(folder: Path | None) -> GradingRun:
    """Make this process a grader of the run in ``folder`` (None: a run of its own); its
    nbgrader gradebook sessions become the run's."""
    global _current
    _current = GradingRun(folder)
    install_sessions(_current.gradebook_at)
    return _current


def leave_run() -> None:
    """This process grades in no run any more (the run's folder may go): its next gradebook
    session starts a run of its own."""
    global _current
    _current = None
    install_sessions(lambda db_url: current_run().gradebook_at(db_url))


def current_run() -> GradingRun:
    """The run this process grades in: the one it joined, else one of its own."""
    return _current if _current is not None else join_run(None)


def _claim_of(path: Path, claims: Iterable[Path]) -> Path | None:
    return next((folder for folder in claims if folder in path.parents), None)


class CourseGuard:
    """The course's files and gradebook, from when it is made until it is checked.

    ``gradebook``: the database file (None: a database server, or none). ``own``: folders
    the notebook being guarded may change (its submission's), claimed in ``run`` (default:
    :func:`current_run`) until :meth:`close`.
    """

    def __init__(self, root: Path, gradebook: Path | None, own: Iterable[Path], run: GradingRun | None = None) -> None:
        self.root = root.resolve()
        self.own = [p.resolve() for p in own]
        self.run = current_run() if run is None else run
        self._gradebook = None if gradebook is None else self.run.gradebook(gradebook)
        self._seen_changes = 0
        if self._gradebook is not None:
            self._gradebook.check()  # from here on, a change is this guard's to report
            self._seen_changes = len(self._gradebook.changes())
        self._claims = contextlib.ExitStack()
        for folder in self.own:
            self._claims.enter_context(self.run.claim(folder))
        self._copied = [self.root / name for name in _COPIED]
        self._backup = Path(tempfile.mkdtemp(prefix="course-grading-backup-"))
        self._digests: dict[Path, str] = {}
        for top in self._copied:
            for path in _files(top):
                self._digests[path] = _digest(path)
                target = self._backup / path.relative_to("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
        self._run_claims = self.run.claims()
        self._stats = self._stat_watched()

    def __enter__(self) -> CourseGuard:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def _shown(self, path: Path | str) -> str:
        path = Path(path)
        return str(path.relative_to(self.root)) if self.root in path.parents else str(path)

    def _stat_watched(self) -> dict[Path, tuple[int, int]]:
        stats: dict[Path, tuple[int, int]] = {}
        for name in _WATCHED:
            for relative, stat in stat_tree(self.root / name).items():
                path = self.root / name / relative
                if not any(own == path or own in path.parents for own in self.own):
                    stats[path] = stat
        return stats

    def check_and_restore(self) -> list[str]:
        """What changed since the guard was made (or last checked): copied files are put
        back, new ones removed, the gradebook is put back as the run left it."""
        changes: list[str] = []
        now = {path for top in self._copied for path in _files(top)}
        for path, digest in self._digests.items():
            if path not in now or _digest(path) != digest:
                changes.append(f"{self._shown(path)} was {'deleted' if path not in now else 'changed'} (put back)")
                with contextlib.suppress(OSError):
                    path.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(self._backup / path.relative_to("/"), path)
        for path in sorted(now - set(self._digests)):
            changes.append(f"{self._shown(path)} was created (removed)")
            with contextlib.suppress(OSError):
                path.unlink()
        if self._gradebook is not None:
            self._gradebook.check()
            found = self._gradebook.changes()
            for record in found[self._seen_changes:]:
                busy = [self._shown(folder) for folder in record.get("busy", [])]
                changes.append(record["change"] + (f" while {', '.join(busy)} {'was' if len(busy) == 1 else 'were'} "
                                                   "being graded" if busy else ""))
            self._seen_changes = len(found)
        changes += self._watched_changes()
        return changes

    def _watched_changes(self) -> list[str]:
        after = self._stat_watched()
        claims = self.run.claims()
        # Folders a grader of the run finished while this guard watched: compare them with
        # what it left, not with how they were when the guard was made.
        finished = {folder: left for folder, left in claims.items()
                    if left is not None and self._run_claims.get(folder, "absent") != left}
        expected = dict(self._stats)
        for folder, left in finished.items():
            for path in [p for p in expected if folder in p.parents]:
                del expected[path]
            if not any(own == folder or own in folder.parents for own in self.own):
                expected.update({folder / relative: stat for relative, stat in left.items()})
        changes = []
        for path in sorted(set(after) | set(expected)):
            claim = _claim_of(path, claims)
            if claim is not None and claims[claim] is None:
                continue  # a grader of the run is writing it
            if after.get(path) != expected.get(path):
                what = "created" if path not in expected else "deleted" if path not in after else "changed"
                changes.append(f"{self._shown(path)} was {what} (another student's file: not put back)")
        self._stats, self._run_claims = after, claims
        return changes

    def close(self) -> None:
        """Let go of the guard's claims, and of its copies."""
        self._claims.close()
        shutil.rmtree(self._backup, ignore_errors=True)
