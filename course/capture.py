"""Capture what child processes write to a file descriptor, such as their tracebacks."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Captured", "captured_fd"]


@dataclass
class Captured:
    """The text written to a file descriptor while :func:`captured_fd` was active."""

    text: str = ""

    def last_line(self) -> str:
        """The last non-blank line, which for a traceback names the exception."""
        lines = [line for line in self.text.splitlines() if line.strip()]
        return lines[-1] if lines else ""


@contextlib.contextmanager
def captured_fd(fd: int = 2) -> Iterator[Captured]:
    """Send file descriptor ``fd`` (standard error by default) to a temporary file.

    A child process inherits its standard error from the process that starts it, so a
    child started inside this block writes its traceback to the file instead of the
    notebook. Jupyter shows such output asynchronously, sometimes in a later cell; reading
    it from a file after ``join`` shows it where it belongs. The text is in ``.text``
    once the block has ended.
    """
    captured = Captured()
    # Flush Python-level buffers first, so that earlier output is not caught by mistake.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), fd)
        try:
            yield captured
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            sink.seek(0)
            captured.text = sink.read().decode(errors="replace")
