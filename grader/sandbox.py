"""How one notebook's kernel is contained: which user it runs as, its private folder, its
environment, its limits, and the spec that :mod:`grader_kernel.main` applies.

What is possible depends on the platform and on who grades:

=============================  ==========================================  =====================
                               Linux                                       macOS, Windows
=============================  ==========================================  =====================
kernel's user                  a user of its own when the grader is root   the grader's
processes + threads cap        RLIMIT_NPROC (exact with its own user) +    watchdog only
                               watchdog
memory, files                  RLIMIT_AS, RLIMIT_FSIZE per process +       watchdog (+ rlimits
                               watchdog for the totals                     on macOS)
left-over processes            found by user, or as adopted orphans        found as descendants
                               (child subreaper), and killed               only
writes outside its folder      prevented (Landlock; own user)              detected afterwards
reading the course, the        prevented (Landlock)                        not prevented
grader's home and /tmp
=============================  ==========================================  =====================
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from grader_kernel import protocol

__all__ = ["KernelFiles", "Limits", "Sandbox", "course_code", "kernel_environment"]

LINUX = sys.platform.startswith("linux")

# What the kernel inherits from the grader's environment: what a Python needs to run and
# to find its packages and kernels, and NBGRADER_EXECUTION, nbgrader's documented way for a
# notebook to know it is being autograded (hiding it protected nothing: tests run sealed,
# whatever the answers detect). Not the grader's secrets, nor its other variables (pytest's,
# the course's). Names ending in "*" are prefixes.
_KEEP_ENV = ("NBGRADER_EXECUTION",
             "PATH", "LANG", "LANGUAGE", "LC_*", "TZ", "TERM", "PYTHONPATH", "PYTHONHASHSEED", "PYTHONIOENCODING",
             "PYTHONUTF8", "PYTHONWARNINGS", "PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "CONDA_*", "LD_LIBRARY_PATH",
             "JUPYTER_PATH", "JUPYTER_DATA_DIR", "JUPYTER_PLATFORM_DIRS", "JUPYTER_CONFIG_DIR", "MPLBACKEND",
             "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "SYSTEMROOT", "COMSPEC", "PATHEXT",
             "WINDIR")


@dataclasses.dataclass(frozen=True)
class Limits:
    """The bounds on one notebook (see :class:`grader.execute.HardenedExecute`)."""

    total_seconds: float
    cell_seconds: int
    answer_seconds: int
    max_tasks: int
    memory_bytes: int
    output_bytes: int
    file_bytes: int

    @property
    def address_space_bytes(self) -> int:
        # Per process. Virtual size runs well above resident memory (thread stacks, malloc
        # arenas, mapped libraries): the watchdog caps the real total.
        return self.memory_bytes + 4 * 2**30


@dataclasses.dataclass(frozen=True)
class KernelFiles:
    """What one kernel start needs: its private folder, key, spec and environment."""

    folder: Path
    key: bytes
    spec: Path
    env: dict[str, str]
    connection_copy: Path


def kernel_environment(base: Mapping[str, str], extra_names: Sequence[str] = ()) -> dict[str, str]:
    """The part of ``base`` a kernel may see (see ``_KEEP_ENV``) plus ``extra_names``."""
    patterns = (*_KEEP_ENV, *extra_names)
    kept = {}
    for name, value in base.items():
        if any(name == p or (p.endswith("*") and name.startswith(p[:-1])) for p in patterns):
            kept[name] = value
    return kept


def course_code(course_root: Path, modules: Iterable[str]) -> dict[str, str]:
    """Where the kernel loads the course's own packages from (those of ``modules``), resolved:
    a package in the course folder itself (a checkout), else where this Python imports it
    from when that is neither the standard library nor installed packages (an editable
    install). Packages installed into the environment load, and are trusted, where the
    kernel's Python finds them. The kernel preloads these folders and trusts exactly them,
    so two course folders sharing one environment each grade with their own code."""
    import importlib.util
    import sysconfig

    installed = [os.path.join(os.path.realpath(p), "") for p in
                 (sysconfig.get_path(n) for n in ("stdlib", "platstdlib", "purelib", "platlib")) if p]
    found: dict[str, str] = {}
    for name in sorted({module.split(".")[0] for module in modules}):
        own = course_root / name
        if (own / "__init__.py").is_file():
            found[name] = os.path.realpath(own)
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        locations = list(spec.submodule_search_locations or []) if spec is not None else []
        if len(locations) == 1 and not os.path.join(os.path.realpath(locations[0]), "").startswith(tuple(installed)):
            found[name] = os.path.realpath(locations[0])
    return found


def _lchown_tree(path: Path, uid: int, gid: int) -> None:
    with contextlib.suppress(OSError):
        os.lchown(path, uid, gid)
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            with contextlib.suppress(OSError):
                os.lchown(os.path.join(folder, name), uid, gid)


class _UserLease:
    """A user id that no account and no other grader is using, held until released."""

    def __init__(self, base: int, span: int = 4096) -> None:
        import pwd

        from filelock import Timeout, UnixFileLock

        locks = Path(tempfile.gettempdir()) / "course-grading-users"
        locks.mkdir(mode=0o700, exist_ok=True)
        start = os.getpid() % span
        self._lock: UnixFileLock | None = None
        for offset in range(span):
            uid = base + (start + offset) % span
            try:
                pwd.getpwuid(uid)
                continue  # a real account
            except KeyError:
                pass
            # An OS lock (flock), which the kernel releases if the grader dies; not
            # thread-local, since the lease may be released from another thread.
            lock = UnixFileLock(str(locks / f"{uid}.lock"), thread_local=False)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue
            if not isinstance(lock, UnixFileLock):  # newer filelock falls back to a lock file without flock
                lock.release()
                raise RuntimeError(f"{locks} does not support flock: user ids cannot be leased safely")
            self.uid, self._lock = uid, lock
            return
        raise RuntimeError(f"no free user id between {base} and {base + span}")

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


class Sandbox:
    """The containment of one notebook, across every kernel it needs (restarts included).

    ``course_root``: the course folder, hidden from the kernel except ``submission``
    (its own ``autograded/<student>/<assignment>/``), where it runs and may write;
    ``hidden``: more folders it may not read.
    """

    def __init__(self, course_root: Path, submission: Path, limits: Limits, uid_base: int,
                 preimport: Sequence[str], env_keep: Sequence[str], log: Any, hidden: Sequence[str] = ()) -> None:
        self.course_root = course_root.resolve()
        self.hidden = [Path(folder) for folder in hidden]
        self.submission = submission.resolve()
        self.limits = limits
        self.preimport = list(preimport)
        self.env_keep = list(env_keep)
        self.log = log
        self.notes: list[str] = []
        self._folders: list[Path] = []
        self._links: Path | None = None
        self._lease: _UserLease | None = None
        self.uid: int | None = None
        self.grader_ids = (os.getuid(), os.getgid()) if hasattr(os, "getuid") else (0, 0)
        if LINUX and os.geteuid() == 0 and uid_base > 0:
            self._lease = _UserLease(uid_base)
            self.uid = self._lease.uid
            _lchown_tree(self.submission, self.uid, self.uid)

    def hidden_folders(self) -> list[str]:
        """What the kernel may not read: the course, and the grader's home and temporary
        folders (other copies of the course, other courses' gradebooks, the grader's own
        files), other homes and the system's secrets. What its Python needs in them stays
        readable (see kernel_main)."""
        folders = {self.course_root, Path.home(), Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp"),
                   *self.hidden}
        # Other people's homes and the system's secrets: an unprivileged kernel cannot read
        # them anyway, unless it keeps the right to read closed folders (see kernel_main).
        folders |= {Path("/home"), Path("/root"), Path("/etc/shadow"), Path("/etc/gshadow"), Path("/etc/sudoers"),
                    Path("/etc/sudoers.d"), Path("/etc/ssh")}
        return sorted(str(folder.resolve()) for folder in folders if folder.exists() and folder != Path("/"))

    def prepare_kernel(self, connection_file: str | None = None) -> KernelFiles:
        """A fresh private folder, key and spec for the next kernel start."""
        folder = Path(tempfile.mkdtemp(prefix="course-grading-"))
        self._folders.append(folder)
        for name in ("tmp", "home", "ipython", "matplotlib", "runtime"):
            (folder / name).mkdir()
        _copy_ipython_profile(folder / "ipython")
        _copy_matplotlib_files(folder / "matplotlib")
        key = protocol.new_key()
        key_file = folder / "key"
        code = course_code(self.course_root, self.preimport)
        with open(key_file, "wb", opener=lambda path, flags: os.open(path, flags, 0o600)) as file:
            file.write(key)
        spec = {
            "key_file": str(key_file),
            "uid": self.uid,
            "gid": self.uid,
            "max_tasks": self.limits.max_tasks,
            "task_margin": 16,
            "file_bytes": self.limits.file_bytes,
            "address_space_bytes": self.limits.address_space_bytes,
            "landlock": True,
            "protected": self.hidden_folders(),
            "writable": [str(self.submission), str(folder)],
            "preimport": self.preimport,
            "code": code,
        }
        spec_path = folder / "spec.json"
        spec_path.write_text(json.dumps(spec))
        env = kernel_environment(os.environ, self.env_keep)
        tmp = str(folder / "tmp")
        env.update(HOME=str(folder / "home"), TMPDIR=tmp, TEMP=tmp, TMP=tmp, IPYTHONDIR=str(folder / "ipython"),
                   MPLCONFIGDIR=str(folder / "matplotlib"), JUPYTER_RUNTIME_DIR=str(folder / "runtime"),
                   USER="student", LOGNAME="student")
        links = self._code_links(code)
        if links is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(links), env.get("PYTHONPATH")]))
        if self.uid is not None:
            _lchown_tree(folder, self.uid, self.uid)
            os.chown(key_file, 0, 0)  # read by the kernel while it is still root, then deleted
            os.chown(spec_path, 0, 0)
        return KernelFiles(folder, key, spec_path, env, folder / "connection.json")

    def _code_links(self, code: Mapping[str, str]) -> Path | None:
        """A folder of links, each package of ``code`` to its folder, first on the kernel's
        PYTHONPATH: its child processes (spawn, forkserver, subprocess) then import the
        packages the kernel was given, not what their environment would find. It is the
        grader's, outside the kernel's folders: the kernel can read it, not change it."""
        if self._links is None and code:
            links = Path(tempfile.mkdtemp(prefix="course-grading-code-"))
            try:
                for name, folder in code.items():
                    (links / name).symlink_to(folder, target_is_directory=True)
            except OSError as error:  # e.g. Windows without the right to make symbolic links
                self.log.warning("Child processes import the course's packages from their environment: %s", error)
                shutil.rmtree(links, ignore_errors=True)
                return None
            links.chmod(0o755)
            self._links = links
        return self._links

    def discard_folders(self) -> None:
        """Remove the private folders of kernels that have ended (before the next starts)."""
        for folder in self._folders:
            shutil.rmtree(folder, ignore_errors=True)
        self._folders.clear()

    def folders(self) -> list[str]:
        """The private folders made so far (they hold the kernel's temporary files)."""
        return [str(folder) for folder in self._folders]

    def close(self) -> None:
        """Give the submission folder back to the grader and remove the private folders."""
        if self.uid is not None:
            _lchown_tree(self.submission, *self.grader_ids)
        for folder in self._folders:
            shutil.rmtree(folder, ignore_errors=True)
        self._folders.clear()
        if self._links is not None:
            shutil.rmtree(self._links, ignore_errors=True)
            self._links = None
        if self._lease is not None:
            self._lease.release()
            self._lease = None


def _ipython_source() -> Path:
    configured = os.environ.get("IPYTHONDIR")
    return Path(configured).expanduser() if configured else Path.home() / ".ipython"


def _copy_ipython_profile(target: Path) -> None:
    """The grader's IPython configuration and start-up files, copied: the kernel gets a
    private, writable profile, and cannot leave a start-up file for the next student."""
    source = _ipython_source() / "profile_default"
    if not source.is_dir():
        return
    profile = target / "profile_default"
    (profile / "startup").mkdir(parents=True)
    for path in source.glob("*.py"):
        shutil.copy(path, profile)
    for path in source.glob("*.json"):
        shutil.copy(path, profile)
    startup = source / "startup"
    if startup.is_dir():
        for path in startup.iterdir():
            if path.is_file():
                shutil.copy(path, profile / "startup")


def _copy_matplotlib_files(target: Path) -> None:
    """Matplotlib's font cache and settings, copied: with a writable cache of its own the
    kernel neither rebuilds the cache (slow) nor warns on stderr (which scores 0)."""
    configured = os.environ.get("MPLCONFIGDIR")
    sources = [Path(configured)] if configured else [
        Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "matplotlib",
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "matplotlib"]
    for source in sources:
        if source.is_dir():
            for path in source.iterdir():
                if path.is_file() and (path.name.startswith("fontlist") or path.name == "matplotlibrc"):
                    with contextlib.suppress(OSError):
                        shutil.copy(path, target)
