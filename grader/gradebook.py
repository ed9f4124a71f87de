"""The gradebook as a grading run writes it: sessions that take turns under a file lock,
each recording the state it leaves.

Every gradebook session of a run (each ``Gradebook`` nbgrader opens, from opening to
closing) holds the run's file lock, so sessions of different processes take turns; each
lasts milliseconds, while a notebook runs for seconds. SQLite's busy timeout alone would
not do: a transaction that has read and then wants to write, while another process writes,
gets "database is locked" at once (SQLite cannot wait there without risking a deadlock),
and nbgrader would drop that student. Connections also wait up to a minute for other
programs (Formgrader) instead of nbgrader's 5 s.

When a process's outermost session ends, the database file is quiet (nbgrader has closed
its connections), and its state is recorded as the one the run's last session left. At the
start of the next session, and whenever :class:`grader.guard.CourseGuard` checks, the file
must still be in that state while the run is grading someone: anything else that changed it
(a kernel, where no sandbox stops it) is undone, and the change is recorded for the run's
guards to report. A change while no one is being graded is no submission's doing (Formgrader,
another nbgrader command, between two grading commands of one long-lived process): it is
taken as the new state.

Data flow (one run, any number of processes)::

    session ends    --(lock held)-->  <run>/gradebook.last (a copy), gradebook.last.json (its digest)
    session begins  --(lock held)-->  compare, put back, <run>/changes/<time>.json
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock

__all__ = ["GradebookSessions", "install_sessions", "sqlite_file"]

# How long a gradebook session may wait for another process's session. Sessions last
# milliseconds; ten minutes only ends a run whose gradebook something else holds for good.
LOCK_TIMEOUT = 600.0
# How long an SQLite connection waits for another program (Formgrader, say) to finish writing.
BUSY_TIMEOUT_MS = 60_000
_COMPANIONS = ("-journal", "-wal")


def sqlite_file(db_url: str, root: Path) -> Path | None:
    """The gradebook's file for an SQLite URL (relative paths are from ``root``); None for
    a database server. ``ValueError`` for what is no URL, or an in-memory database (which
    processes cannot share)."""
    from sqlalchemy.engine import make_url

    try:
        url = make_url(db_url)
    except Exception as error:
        raise ValueError(f"the gradebook URL {db_url!r} is not a database URL: {error}") from None
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:" or url.database.startswith("file::memory:"):
        raise ValueError(f"the gradebook {db_url!r} is in memory, which worker processes cannot share: "
                         "give a file, e.g. --db sqlite:///gradebook.db")
    return (root / url.database).resolve()


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
            dbapi_connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    event.listen(Engine, "connect", busy_timeout)
    _busy_timeout_installed = True


class GradebookSessions:
    """One gradebook's sessions in one run (``folder``: the run's, shared by its processes).

    ``path``: the database file, or None for a database server (sessions then only take
    turns). ``busy``: what the run is grading now (nothing: a change is no submission's doing).
    """

    def __init__(self, path: Path | None, folder: Path, busy: Callable[[], list[str]] = list) -> None:
        self.path = path
        key = hashlib.sha256(str(path).encode()).hexdigest()[:16]
        self._lock = FileLock(str(folder / f"gradebook-{key}.lock"), timeout=LOCK_TIMEOUT)
        self._copy = folder / f"gradebook-{key}.last"
        self._state_file = folder / f"gradebook-{key}.last.json"
        self._changes = folder / "changes"
        self._changes.mkdir(exist_ok=True)
        self._busy = busy
        self._depth = 0
        self._since = 0.0
        self.held_seconds = 0.0
        _install_busy_timeout()

    def acquire(self) -> None:
        self._lock.acquire()
        self._depth += 1
        if self._depth == 1:
            self._since = time.monotonic()
            try:
                self._verify_and_restore()
            except BaseException:
                self.release()
                raise

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
        """The run's lock, held; the gradebook checked when it is taken, recorded when let go."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def check(self) -> None:
        """Compare the gradebook with the state the run's last session left, and put it back."""
        with self.session():
            pass

    def adopt(self) -> None:
        """Take the gradebook's present state as the run's own: after the run ended a
        process in the middle of a session, whose transaction SQLite rolls back here."""
        self._lock.acquire()
        try:
            if self.path is not None and self.path.exists():
                with contextlib.closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)) as connection:
                    connection.execute("PRAGMA schema_version").fetchone()  # rolls back a hot journal
            self._record()
        finally:
            self._lock.release()

    def changes(self) -> list[dict[str, Any]]:
        """Every change of the run's gradebook that no session of the run made, in order."""
        found = []
        for path in sorted(self._changes.glob("*.json")):
            with contextlib.suppress(OSError, ValueError):
                found.append(json.loads(path.read_text()))
        return found

    def _state(self) -> dict[str, Any]:
        assert self.path is not None
        return {"digest": _digest(self.path),
                "companions": sorted(s for s in _COMPANIONS if self.path.with_name(self.path.name + s).exists())}

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
        busy = self._busy()
        if not busy:
            return  # no submission is being graded: whatever changed it, the state at release is the run's
        name = self.path.name
        changes = []
        if now["digest"] != wanted["digest"] and wanted["digest"] is not None:
            changes.append(f"{name} was {'deleted' if now['digest'] is None else 'changed'} (put back)")
            _copy_atomically(self._copy, self.path)
        for suffix in sorted(set(now["companions"]) - set(wanted["companions"])):
            changes.append(f"{name}{suffix} was created (removed)")
            with contextlib.suppress(OSError):
                self.path.with_name(name + suffix).unlink()
        for change in changes:
            record = {"change": change, "busy": busy}
            _write_atomically(self._changes / f"{time.time_ns()}-{os.getpid()}.json", json.dumps(record))


_sessions_for: Callable[[str], GradebookSessions] | None = None


def install_sessions(sessions_for: Callable[[str], GradebookSessions]) -> None:
    """Make every nbgrader ``Gradebook`` of this process a session: ``sessions_for(db_url)``'s
    lock held from opening to closing.

    nbgrader opens and closes a ``Gradebook`` around each step that reads or writes (a
    ``with`` block, or a preprocessor's ``preprocess``), and offers no hook: wrap its two
    methods, once per process.
    """
    global _sessions_for
    first = _sessions_for is None
    _sessions_for = sessions_for
    if not first:
        return
    from nbgrader import api  # type: ignore[import-untyped]

    original_init, original_close = api.Gradebook.__init__, api.Gradebook.close

    def __init__(self: Any, db_url: str, *args: Any, **kwargs: Any) -> None:
        assert _sessions_for is not None
        sessions = _sessions_for(db_url)
        sessions.acquire()
        try:
            original_init(self, db_url, *args, **kwargs)
        except BaseException:
            sessions.release()
            raise
        self._course_session = sessions

    def close(self: Any) -> None:
        try:
            original_close(self)
        finally:
            sessions = self.__dict__.pop("_course_session", None)  # once, however often close() is called
            if sessions is not None:
                sessions.release()

    api.Gradebook.__init__ = __init__
    api.Gradebook.close = close
