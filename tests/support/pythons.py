"""The Pythons the tests run kernels on, and the kernel environment each needs.

Standard library only: ``run.py test`` runs this file under the bare python3, beside
setting up .venv, to build the environments of the other Pythons before the tests start
(both are mostly one CPU's work, and the machine has more).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache"
SUPPORTED_MINORS = ("3.11", "3.12", "3.13")
KERNEL_REQUIREMENTS = "requirements-kernel.txt"


def minor_of(python: str) -> str | None:
    """'3.12' for a standard (GIL) CPython interpreter, None if it cannot be run or is free-threaded."""
    probe = ("import sys, sysconfig; "
             "print(f'{sys.version_info[0]}.{sys.version_info[1]}', sysconfig.get_config_var('Py_GIL_DISABLED') or 0)")
    try:
        out = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    minor, free_threaded = out.split()
    return None if free_threaded not in ("0", "None") else minor


def find_pythons(current: str = sys.executable) -> dict[str, str]:
    """The interpreters to test on: one per supported minor version present on this machine.

    Looks at ``current`` (the tests' own interpreter), ``python3.X`` on PATH and pyenv's
    versions. Set COURSE_TEST_PYTHONS=3.11,3.12 to test fewer.
    """
    found: dict[str, str] = {}
    candidates = [current] + [shutil.which(f"python{minor}") for minor in SUPPORTED_MINORS]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(map(str, pyenv_root.glob("versions/3.*/bin/python3")), reverse=True)
    for candidate in filter(None, candidates):
        minor = minor_of(candidate)
        if minor in SUPPORTED_MINORS and minor not in found:
            found[minor] = candidate
    wanted = os.environ.get("COURSE_TEST_PYTHONS")
    if wanted:
        missing = set(wanted.split(",")) - set(found)
        if missing:
            raise RuntimeError(f"COURSE_TEST_PYTHONS asks for {sorted(missing)}, which this machine does not have")
        found = {minor: found[minor] for minor in wanted.split(",")}
    return dict(sorted(found.items()))


def kernel_lock(minor: str) -> Path:
    """The file that the builders of ``minor``'s environment lock (tests/support/kernels.py)."""
    return CACHE / f"kernel-py{minor}.lock"


def kernel_env(minor: str) -> Path:
    """Where ``minor``'s kernel environment is, for these requirements."""
    digest = hashlib.sha256((ROOT / KERNEL_REQUIREMENTS).read_bytes() + (ROOT / "pyproject.toml").read_bytes())
    return CACHE / "kernels" / f"py{minor}-{digest.hexdigest()[:12]}"


def ensure_kernel_env(minor: str, interpreter: str) -> str:
    """The python of a virtual environment of ``interpreter`` under .cache/ with
    requirements-kernel.txt only (a kernel needs neither JupyterLab nor nbgrader), built
    unless it was built from these exact requirements (the course package is installed
    editable, so changes to course/ need no rebuild). The caller holds kernel_lock(minor)."""
    env = kernel_env(minor)
    python = env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    done = env / "installed"
    if not done.exists():
        for stale in env.parent.glob(f"py{minor}-*"):  # built from older requirements, or half-built
            shutil.rmtree(stale, ignore_errors=True)
        pip = [str(python), "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
        for command in ([interpreter, "-m", "venv", str(env)], [*pip, "--upgrade", "pip"],
                        [*pip, "-r", KERNEL_REQUIREMENTS]):
            # Quiet unless it fails: setuptools warns on every editable install of the course.
            step = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
            if step.returncode:
                raise RuntimeError(f"building the {minor} kernel environment: {' '.join(command)} exited "
                                   f"{step.returncode}:\n{(step.stdout + step.stderr)[-3000:]}")
        done.write_text(interpreter + "\n")
    return str(python)


def main() -> int:
    """Build the kernel environment of every Python found but the tests' own, at once.

    The tests' own Python is .venv's, which run.py sets up at the same time; the tests find
    the same Pythons (with .venv's python as ``current``, of the same version as this one).
    """
    CACHE.mkdir(exist_ok=True)
    others = {minor: python for minor, python in find_pythons().items()
              if minor != f"{sys.version_info[0]}.{sys.version_info[1]}"}
    builds = [subprocess.Popen([sys.executable, __file__, minor, python]) for minor, python in others.items()]
    return max([build.wait() for build in builds], default=0)


if __name__ == "__main__":
    if len(sys.argv) == 3:
        import fcntl  # run.py runs this file only where there is fcntl (not on Windows)

        minor_arg, interpreter_arg = sys.argv[1:]
        with open(kernel_lock(minor_arg), "a") as lock:
            # The lock filelock's FileLock takes on POSIX (tests/support/kernels.py): a test
            # run in this folder at the same time waits for this build, and this for it.
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                ensure_kernel_env(minor_arg, interpreter_arg)
            except RuntimeError as error:
                sys.exit(str(error))
        sys.exit(0)
    sys.exit(main())
