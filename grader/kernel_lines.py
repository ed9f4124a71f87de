"""Lines that ipykernel itself writes to a cell's stderr, which no code of the notebook wrote.

nbgrader scores a test cell with any stderr output 0. ipykernel prints
``IOStream.flush timed out`` to the process's stderr, which it forwards to the running cell,
when its output thread has not answered a flush for 10 s (``OutStream.flush_timeout``):
on a machine busy enough to hold that thread back, a test that passed would score 0.
"""

from __future__ import annotations

__all__ = ["FLUSH_TIMED_OUT", "without_kernel_lines"]

# ipykernel/iostream.py, OutStream.flush (ipykernel 6 and 7): print("IOStream.flush timed out",
# file=sys.__stderr__). One print, so one line.
FLUSH_TIMED_OUT = "IOStream.flush timed out"


def without_kernel_lines(text: str) -> tuple[str, int]:
    """``text`` without ipykernel's own lines, and how many were left out."""
    lines = text.splitlines(keepends=True)
    kept = [line for line in lines if line.rstrip("\r\n") != FLUSH_TIMED_OUT]
    return "".join(kept), len(lines) - len(kept)
