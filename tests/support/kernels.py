"""Kernels for the matrix: a Python of each minor version with the course installed, and its start method."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from filelock import FileLock

from support.layout import CACHE, ROOT, SUPPORTED_MINORS


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


def find_pythons() -> dict[str, str]:
    """The interpreters to test on: one per supported minor version present on this machine.

    Looks at this interpreter, ``python3.X`` on PATH and pyenv's versions. Set
    COURSE_TEST_PYTHONS=3.11,3.12 to test fewer.
    """
    current = f"{sys.version_info[0]}.{sys.version_info[1]}"
    found = {current: sys.executable} if current in SUPPORTED_MINORS else {}
    candidates = [shutil.which(f"python{minor}") for minor in SUPPORTED_MINORS]
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


KERNEL_REQUIREMENTS = "requirements-kernel.txt"


def kernel_python(minor: str, interpreter: str) -> str:
    """A Python of this minor version with what a kernel needs installed, for running kernels.

    This interpreter already has it. Other versions get a virtual environment under
    .cache/ with requirements-kernel.txt only (a kernel needs neither JupyterLab nor
    nbgrader), rebuilt whenever that file changes (the course package is installed
    editable, so changes to course/ need no rebuild); a file lock lets parallel test
    workers share it.
    """
    if interpreter == sys.executable:
        return sys.executable
    digest = hashlib.sha256((ROOT / KERNEL_REQUIREMENTS).read_bytes() + (ROOT / "pyproject.toml").read_bytes())
    env = CACHE / "kernels" / f"py{minor}-{digest.hexdigest()[:12]}"
    python = env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    done = env / "installed"
    CACHE.mkdir(exist_ok=True)
    with FileLock(str(CACHE / f"kernel-py{minor}.lock")):
        if not done.exists():
            for stale in env.parent.glob(f"py{minor}-*"):  # built from an older requirements-kernel.txt
                shutil.rmtree(stale, ignore_errors=True)
            subprocess.run([interpreter, "-m", "venv", str(env)], check=True)
            pip = [str(python), "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
            subprocess.run([*pip, "--upgrade", "pip"], check=True, cwd=ROOT)
            subprocess.run([*pip, "-r", KERNEL_REQUIREMENTS], check=True, cwd=ROOT)
            done.write_text(interpreter + "\n")
    return str(python)


def write_kernelspec(folder: Path, python: str) -> Path:
    """A JUPYTER_PATH folder whose `python3` kernel runs on ``python``."""
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }))
    return folder


def write_start_method_profile(folder: Path, method: str) -> Path:
    """An IPYTHONDIR whose startup file makes ``method`` the kernel's default start method."""
    startup = folder / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-start-method.py").write_text(
        "import multiprocessing\n"
        f"multiprocessing.set_start_method({method!r}, force=True)\n"
    )
    return folder


@dataclasses.dataclass(frozen=True)
class KernelSetup:
    """How kernels start: which Python, which default start method."""

    minor: str
    python: str
    method: str
    jupyter_path: Path
    ipython_dir: Path

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(JUPYTER_PATH=str(self.jupyter_path), IPYTHONDIR=str(self.ipython_dir), JUPYTER_PLATFORM_DIRS="1")
        return env
