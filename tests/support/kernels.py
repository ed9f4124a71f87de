"""Kernels for the matrix: a Python of each minor version with the course installed, and its start method."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

from filelock import FileLock

from support.pythons import CACHE, ensure_kernel_env, kernel_lock


def kernel_python(minor: str, interpreter: str) -> str:
    """A Python of this minor version with what a kernel needs installed, for running kernels:
    this interpreter, or the environment support.pythons builds for ``interpreter``, once
    for all test workers."""
    if interpreter == sys.executable:
        return sys.executable
    CACHE.mkdir(exist_ok=True)
    with FileLock(str(kernel_lock(minor))):
        return ensure_kernel_env(minor, interpreter)


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
