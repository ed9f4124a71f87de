"""The gradebook's database: its URL checked, one bounded connection pool per database
server, and one coordinator at a time per gradebook.

nbgrader's ``Gradebook`` makes an SQLAlchemy engine of its own each time it is opened, and
disposes of it when closed; a database server then sees one new connection per gradebook
session, and as many at once as sessions are open (nbgrader #560: "too many clients" in a
large autograde). :func:`install_pool` gives every ``Gradebook`` of a process that opens a
database server the same engine, whose pool holds at most :data:`POOL_SIZE` connections
and keeps them between sessions. SQLite files keep nbgrader's own engines.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock

__all__ = ["POOL_SIZE", "DatabaseLost", "coordinator_lock", "first_line", "install_pool", "is_server", "problem_with",
           "shown"]

# Connections one process may hold to a database server. nbgrader opens one gradebook
# session at a time, and nests at most two; a session waits for a free connection rather
# than open another.
POOL_SIZE = 3
# Seconds a session waits for a pooled connection, and for a server to accept one.
POOL_TIMEOUT = 60
CONNECT_TIMEOUT = 10


class DatabaseLost(Exception):
    """The gradebook's database stopped answering in the middle of a run."""


def first_line(error: BaseException) -> str:
    """What a database error says, in one line (SQLAlchemy wraps the driver's error in paragraphs of its own)."""
    said = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(said).splitlines() if line.strip()]
    return lines[0].strip("'\"") if lines else type(error).__name__


def shown(db_url: str) -> str:
    """The URL as it may be printed: without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(db_url).render_as_string(hide_password=True)
    except Exception:
        return db_url


def is_server(db_url: str) -> bool:
    """Whether the gradebook is on a database server (anything but an SQLite file)."""
    from sqlalchemy.engine import make_url

    return make_url(db_url).get_backend_name() != "sqlite"


def problem_with(db_url: str) -> str | None:
    """Why ``db_url`` cannot name a gradebook here (not a URL, no driver installed), or None."""
    from sqlalchemy.engine import make_url

    try:
        url = make_url(db_url)
    except Exception:
        return (f"{db_url!r} is not a database URL: give e.g. sqlite:///gradebook.db or "
                "postgresql://user:password@host:5432/gradebook")
    try:
        url.get_dialect().import_dbapi()
    except Exception as error:
        hint = " (pip install 'psycopg[binary]')" if url.get_backend_name() == "postgresql" else ""
        return f"cannot open the gradebook {shown(db_url)}: no database driver: {first_line(error)}{hint}"
    return None


_engines: dict[str, Any] = {}


def _engine_for(db_url: str, **kwargs: Any) -> Any:
    """One engine per database server and process, with a bounded pool that keeps its
    connections between gradebook sessions; nbgrader's own engine for an SQLite file."""
    from sqlalchemy import create_engine

    if not is_server(db_url):
        return create_engine(db_url, **kwargs)
    engine = _engines.get(db_url)
    if engine is None:
        arguments = {"connect_timeout": CONNECT_TIMEOUT} if db_url.startswith("postgresql") else {}
        engine = create_engine(db_url, pool_size=POOL_SIZE, max_overflow=0, pool_timeout=POOL_TIMEOUT,
                               pool_pre_ping=True, connect_args=arguments, **kwargs)
        _engines[db_url] = engine
    return engine


_installed = False


def install_pool() -> None:
    """Make nbgrader's ``Gradebook`` use :func:`_engine_for` in this process (once)."""
    global _installed
    if _installed:
        return
    _installed = True
    from nbgrader import api  # type: ignore[import-untyped]

    original_close = api.Gradebook.close
    api.create_engine = _engine_for

    def close(self: Any) -> None:
        engine = self.engine
        if any(engine is shared for shared in _engines.values()):
            # The session's connection goes back to the shared pool; the engine stays.
            self.engine = _KeptEngine(engine)
            try:
                original_close(self)
            finally:
                self.engine = engine
        else:
            original_close(self)

    api.Gradebook.close = close


class _KeptEngine:
    """An engine whose ``dispose`` does nothing: for nbgrader's ``close`` on a shared engine."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def dispose(self, *_: Any, **__: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def _lock_key(db_url: str, course_id: str) -> int:
    """The advisory lock's key: a signed 64-bit number from the course's id."""
    digest = hashlib.sha256(f"course-autograde:{course_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def coordinator_lock(db_url: str, gradebook: Path | None, course_id: str) -> Iterator[None]:
    """One coordinator at a time per gradebook, or a ``RuntimeError`` saying another one is
    running: a file lock on this machine, and on PostgreSQL an advisory lock, which
    coordinators on any machine see, held by a connection of its own for the run."""
    key = hashlib.sha256(str(gradebook or db_url).encode()).hexdigest()[:16]
    lock = FileLock(os.path.join(tempfile.gettempdir(), f"course-classgrade-{key}.lock"))
    refusal = f"another `run.py autograde` is grading into this gradebook ({shown(db_url)}): wait for it to finish"
    try:
        lock.acquire(blocking=False)
    except Exception:
        raise RuntimeError(refusal) from None
    try:
        with _advisory_lock(db_url, course_id, refusal):
            yield
    finally:
        lock.release()


@contextlib.contextmanager
def _advisory_lock(db_url: str, course_id: str, refusal: str) -> Iterator[None]:
    if not db_url.startswith("postgresql"):
        yield
        return
    from sqlalchemy import create_engine, text

    # An engine of its own: the lock lives as long as this connection, which the pool must not hand out.
    engine = create_engine(db_url, poolclass=_null_pool(), connect_args={"connect_timeout": CONNECT_TIMEOUT})
    try:
        try:
            connection = engine.connect()
        except Exception as error:
            raise RuntimeError(f"cannot open the gradebook {shown(db_url)}: {first_line(error)}") from None
        with connection:
            taken = connection.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                       {"key": _lock_key(db_url, course_id)}).scalar()
            connection.commit()
            if not taken:
                raise RuntimeError(refusal)
            yield
            with contextlib.suppress(Exception):  # the server may have gone: the lock went with it
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _lock_key(db_url, course_id)})
                connection.commit()
    finally:
        engine.dispose()


def _null_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool
