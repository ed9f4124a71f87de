#!/usr/bin/env python3
"""Set up the course and use it: the only commands a fresh machine needs.

    python3 run.py lab       open the course in JupyterLab
    python3 run.py test      run the whole test suite
    python3 run.py release   regenerate release/ from source/ (instructors)
    python3 run.py autograde <assignment> [--jobs N | --scheduler ADDRESS] [nbgrader autograde options]
                             grade every submission in submitted/, N at a time or on a
                             Dask cluster (instructors)
    python3 run.py check <assignment> [notebook]
                             grade your own notebook with the hidden tests (self-study)
    python3 run.py report <assignment> [--db URL]
                             write reports/<assignment>.html: the class's results (instructors)

Each command first makes ``.venv/`` with this Python (3.11 or newer) and installs
``requirements.txt`` into it, again whenever that file changes. Extra arguments go to
JupyterLab or pytest unchanged, e.g. ``python3 run.py test -k 01_processes``.

``autograde`` runs ``python -m grader.autograde``, ``check`` runs ``python -m
grader.selfcheck`` and ``report`` runs ``python -m grader.report``; the README's instructor
and self-study guides say what they do. Each exits with status 2, and changes nothing, when
its input is wrong.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / "requirements.sha256"


def venv_bin(name: str) -> Path:
    """Path of an executable inside .venv on this platform."""
    folder = "Scripts" if os.name == "nt" else "bin"
    suffix = ".exe" if os.name == "nt" else ""
    return VENV / folder / f"{name}{suffix}"


def requirements_digest() -> str:
    """What the environment was built from: requirements, package metadata, Python."""
    digest = hashlib.sha256(sys.version.encode())
    for name in ("requirements.txt", "requirements-kernel.txt", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_environment() -> None:
    """Create .venv and install requirements.txt, unless that was done for this exact file."""
    if sys.version_info < (3, 11):  # noqa: UP036 -- this runs under any python3, before .venv exists
        sys.exit(f"The course needs Python 3.11 or newer; this is {sys.version.split()[0]}. "
                 "Run this script with a newer python3.")
    wanted = requirements_digest()
    if venv_bin("python").exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    print("Setting up .venv from requirements.txt (the first time takes a minute or two)...", flush=True)
    if not venv_bin("python").exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(venv_bin("python")), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "--quiet", "--upgrade", "pip"], check=True, cwd=ROOT)
    subprocess.run([*pip, "install", "--quiet", "-r", "requirements.txt"], check=True, cwd=ROOT)
    STAMP.write_text(wanted + "\n")


def assignments() -> list[str]:
    """The assignment ids, one per folder of source/ that holds <id>/<id>.ipynb."""
    return sorted(p.parent.name for p in ROOT.glob("source/*/*.ipynb") if p.stem == p.parent.name)


def call_through_ctrl_c(command: list[str]) -> int:
    """Run ``command`` in the course folder; return its exit status.

    Ctrl-C reaches the command too (the terminal signals its whole process group), and it
    stops cleanly on its own: wait for it, rather than kill it half-way through writing
    grades, as ``subprocess.call`` would on KeyboardInterrupt.
    """
    with subprocess.Popen(command, cwd=ROOT) as child:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                continue


def main(argv: list[str]) -> int:
    commands = ("lab", "test", "release", "autograde", "check", "report")
    if not argv or argv[0] not in commands:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    ensure_environment()
    python = str(venv_bin("python"))
    # nbgrader runs `alembic` by name when it creates a gradebook: put .venv's tools first.
    os.environ["PATH"] = os.pathsep.join([str(venv_bin("python").parent), os.environ.get("PATH", "")])
    if command == "lab":
        if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in rest:
            # JupyterLab refuses to start as root unless told to; containers often run as root.
            print("Running as root: starting JupyterLab with --allow-root.", flush=True)
            rest = ["--allow-root", *rest]
        return subprocess.call([python, "-m", "jupyter", "lab", *rest], cwd=ROOT)
    if command == "test":
        # -n auto: parallel workers (tests/conftest.py says how many). pytest exits 5 when
        # no test ran, which fails this command (and CI) like any other non-zero status.
        # --maxschedchunk 1: tests go out one at a time, chosen for what the CPUs can take
        # (tests/support/schedule.py), so that no worker is left with a queue of long tests
        # while the others are idle.
        pytest = [python, "-m", "pytest", "-n", "auto", "--maxschedchunk", "1"]
        # The browser tests (tests/e2e) are handed out last, into the CPUs the last long tests leave.
        return subprocess.call([*pytest, *rest], cwd=ROOT)
    if command == "autograde":
        return call_through_ctrl_c([python, "-m", "grader.autograde", *rest])
    if command == "check":
        if len(rest) >= 2 and not rest[1].startswith("-"):
            # The notebook's path is the learner's, from where they are; the check runs in
            # the course folder.
            rest = [rest[0], str(Path(rest[1]).resolve()), *rest[2:]]
        return call_through_ctrl_c([python, "-m", "grader.selfcheck", *rest])
    if command == "report":
        return subprocess.call([python, "-m", "grader.report", *rest], cwd=ROOT)
    for assignment in assignments():
        status = subprocess.call([python, "-m", "nbgrader", "generate_assignment", assignment, "--force", *rest],
                                 cwd=ROOT)
        if status:
            return status
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as error:
        sys.exit(f"Set-up failed while running: {' '.join(map(str, error.cmd))}")
