"""Running nbgrader in this process, and what every command that does so needs."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

__all__ = ["assignments", "child_subreaper", "describe_refusal", "initialized", "output_to", "run_nbgrader",
           "send_output", "tools_on_path"]


@contextlib.contextmanager
def initialized(argv: Sequence[str], log: TextIO | None = None) -> Iterator[Any]:
    """nbgrader's application, initialized with ``argv`` (its configuration loaded), then reset.

    In-process, as nbgrader's own tests do: importing nbgrader's apps costs about 2.5 s of
    CPU, paid once per process instead of once per command. ``log``: where nbgrader logs
    (default: stderr). Raises ``SystemExit`` when nbgrader refuses ``argv``.
    """
    from nbgrader.apps.nbgraderapp import NbGraderApp  # type: ignore[import-untyped]

    app = NbGraderApp.instance()
    saved_path = list(sys.path)  # initialize() puts the current folder first on sys.path, each time
    try:
        app.initialize(list(argv))
        if log is not None:
            app.init_logging(logging.StreamHandler, [log], color=False, subapps=True)
        yield app
    finally:
        app.reset()
        sys.path[:] = saved_path


def run_nbgrader(argv: Sequence[str], configure: Callable[[Any], None] | None = None,
                 log: TextIO | None = None) -> int:
    """Run ``nbgrader <argv>`` in this process, from the current folder; return its exit status.

    ``configure`` may adjust the subcommand's app (``AutogradeApp``...) after its
    configuration is loaded, before it starts. ``log``: as for :func:`initialized`.
    """
    from jupyter_core.application import NoStart

    try:
        with initialized(argv, log) as app:
            if configure is not None:
                configure(app.subapp)
            app.start()
        return 0
    except NoStart:
        return 0
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)


def describe_refusal(said: io.StringIO, fallback: str) -> str:
    """The line in which nbgrader said why it refused its arguments, without its log prefix."""
    lines = [line for line in said.getvalue().splitlines() if line.strip()]
    return lines[-1].split("] ", 1)[-1] if lines else fallback


@contextlib.contextmanager
def tools_on_path() -> Iterator[None]:
    """Put this Python's scripts folder first on PATH: nbgrader runs ``alembic`` by name
    when it creates a gradebook."""
    saved = os.environ.get("PATH")
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), saved or ""])
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = saved


def assignments(source: Path) -> list[str]:
    """The assignments of a course: the folders of its ``source/`` that hold a notebook."""
    if not source.is_dir():
        return []
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


@contextlib.contextmanager
def child_subreaper() -> Iterator[bool]:
    """On Linux, make this process the child subreaper (orphans of its descendants come to
    it, and can be ended), then put the setting back; yields whether it is one."""
    if not sys.platform.startswith("linux"):
        yield False
        return
    from grader_kernel import privileges

    was = on = False
    with contextlib.suppress(OSError):
        was = privileges.is_child_subreaper()
        privileges.set_child_subreaper(True)
        on = True
    try:
        yield on
    finally:
        if on and not was:
            with contextlib.suppress(OSError):
                privileges.set_child_subreaper(False)


def send_output(path: Path) -> Callable[[], None]:
    """Send what this process and its children (kernels) print to ``path``, at the level of
    file descriptors 1 and 2 (Python's and nbgrader's prints, and the children's); return
    what puts the output back."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.close(descriptor)

    def restore() -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for copy in saved:
            os.close(copy)

    return restore


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[None]:
    """:func:`send_output` for a block, including what goes to ``sys.stdout``/``sys.stderr``
    when they are not the file descriptors (pytest's capture, say)."""
    restore = send_output(path)
    try:
        with open(path, "a", encoding="utf-8") as log, contextlib.redirect_stdout(log), \
                contextlib.redirect_stderr(log):
            yield
    finally:
        restore()
