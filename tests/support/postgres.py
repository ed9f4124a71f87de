"""A PostgreSQL server for the tests: the one ``.ci/run`` started (``COURSE_TEST_POSTGRES_URL``),
else a private one in a temporary folder, on 127.0.0.1, as ``.ci/run`` starts it."""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

URL_VARIABLE = "COURSE_TEST_POSTGRES_URL"
# Seconds for initdb, and for the server to accept connections: about a second each when
# idle; a busy machine (the suite runs beside them) can make that many times longer.
START_SECONDS = 120

INSTALL = (f"install PostgreSQL's server (Debian or Ubuntu: apt-get install postgresql; macOS: brew install "
           f"postgresql), or set {URL_VARIABLE} to the URL of a server where the tests may create databases "
           f"(e.g. postgresql://postgres@127.0.0.1:5432/postgres)")


def binaries() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, else Debian's newest /usr/lib/postgresql/<v>/bin."""
    found = shutil.which("pg_ctl")
    candidates = [Path(found).resolve().parent] if found else []
    candidates += sorted((Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")),
                         key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclasses.dataclass
class PrivateServer:
    """A server of its own in ``folder``, run as the ``postgres`` user when the tests run as
    root (initdb refuses root)."""

    folder: Path
    bin: Path
    port: int = 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        user = {}
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("the tests run as root, and initdb refuses root: there is no `postgres` user to "
                                   f"run it as ({INSTALL})") from None
            user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        return subprocess.run(args, capture_output=True, text=True, timeout=START_SECONDS, cwd=self.folder, **user)

    def start(self) -> str:
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
        data = str(self.folder / "data")
        done = self._run(str(self.bin / "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync",
                         "-E", "UTF8")
        if done.returncode:
            raise RuntimeError(f"initdb failed: {(done.stderr or done.stdout).strip()[-500:]}")
        self.port = _free_port()
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -F"
        done = self._run(str(self.bin / "pg_ctl"), "-D", data, "-l", str(self.folder / "server.log"), "-w",
                         "-t", str(START_SECONDS), "-o", options, "start")
        if done.returncode:
            log = (self.folder / "server.log")
            said = log.read_text()[-500:] if log.exists() else done.stderr
            raise RuntimeError(f"the PostgreSQL server did not start: {said.strip()}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "stop")


@contextlib.contextmanager
def server() -> Iterator[str]:
    """The URL of a PostgreSQL server's maintenance database: ``.ci/run``'s, else a private
    one started in a temporary folder and stopped (and removed) afterwards. ``RuntimeError``
    saying what to install when there is none."""
    url = os.environ.get(URL_VARIABLE)
    if url:
        yield url
        return
    found = binaries()
    if found is None:
        raise RuntimeError(f"the PostgreSQL tests need a PostgreSQL server, and none is installed: {INSTALL}")
    # Not under pytest's temporary folders: only their owner may enter them, and the server
    # may run as another user.
    private = PrivateServer(Path(tempfile.mkdtemp(prefix="course-test-postgres-")), found)
    try:
        yield private.start()
    finally:
        private.stop()
        shutil.rmtree(private.folder, ignore_errors=True)


def new_database(server_url: str) -> str:
    """A new, empty database on the server; its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"course_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)
