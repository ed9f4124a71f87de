"""What happens while one notebook is graded, and the kinds of cell the grader tells apart."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from grader.sandbox import Limits

__all__ = ["Run", "cell_kind", "nbgrader_meta"]


def nbgrader_meta(cell: NotebookNode) -> dict[str, Any]:
    """A copy of the cell's nbgrader metadata (empty for a cell nbgrader does not know)."""
    return dict(cell.metadata.get("nbgrader", {}))


def cell_kind(cell: NotebookNode) -> str:
    """'test', 'locked' (a locked helper cell), 'answer' or 'other', for a code cell."""
    meta = nbgrader_meta(cell)
    if meta.get("solution"):
        return "answer"
    if meta.get("grade"):
        return "test"
    if meta.get("locked"):
        return "locked"
    return "other"


@dataclasses.dataclass
class Run:
    """What happens while one notebook is graded."""

    limits: Limits
    deadline: float
    kinds: list[str]
    notes: list[str] = dataclasses.field(default_factory=list)
    flags: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    verdicts: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    expected: dict[int, str] = dataclasses.field(default_factory=dict)  # cell index -> nonce
    completed: set[int] = dataclasses.field(default_factory=set)  # cells that ran to the end
    failed_runs: set[int] = dataclasses.field(default_factory=set)  # cells that killed or hung the kernel
    output_bytes: int = 0
    output_cut: set[int] = dataclasses.field(default_factory=set)
    kernel_lines: set[int] = dataclasses.field(default_factory=set)  # cells ipykernel's own stderr lines were cut from
    interrupts: set[asyncio.Future[Any]] = dataclasses.field(default_factory=set)  # kept until they are done
    restarts: int = 0
    kernel_pids: set[int] = dataclasses.field(default_factory=set)
    initial_files: set[Path] = dataclasses.field(default_factory=set)  # in the submission folder
    replaying: bool = False
    current: int = 0  # the cell the notebook is at
    cell_timeout: float = 0.0
    cell_stretches: bool = False  # its timeout counts the time a busy machine let it run (busy_stretch)
    timed_out: bool = False  # a cell has run past its timeout: an answer hangs

    def flag(self, where: str, message: str) -> None:
        self.flags.setdefault(where, []).append(message)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()
