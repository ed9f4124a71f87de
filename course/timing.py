"""A small wall-clock timer."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

__all__ = ["Timer", "TimerError", "size_for"]


class TimerError(RuntimeError):
    """A timer was used out of order: stopped before it started, or started twice."""


@dataclass
class Timer:
    """Measure wall-clock seconds on ``time.perf_counter``.

    Use it as a context manager (``with Timer() as timer: ...``, then ``timer.seconds``) or
    call ``start()`` and ``stop()``. ``perf_counter`` is the clock for intervals: it never
    goes backwards and has the finest resolution the platform offers, unlike ``time.time``,
    which the system may set back or forward while you measure.
    """

    name: str | None = None
    seconds: float = field(default=math.nan, init=False)
    _started: float | None = field(default=None, init=False, repr=False)

    def start(self) -> None:
        """Start measuring."""
        if self._started is not None:
            raise TimerError(f"{self._label()} is already running: call .stop() before starting it again")
        self._started = time.perf_counter()

    def stop(self) -> float:
        """Stop measuring; return the seconds since ``start()`` and keep them in ``seconds``."""
        if self._started is None:
            raise TimerError(f"{self._label()} is not running: call .start() first")
        self.seconds = time.perf_counter() - self._started
        self._started = None
        return self.seconds

    def __enter__(self) -> Timer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _label(self) -> str:
        return f"Timer {self.name!r}" if self.name else "the timer"


def size_for(task: Callable[[int], object], seconds: float, start: int = 10_000) -> int:
    """The size ``n`` for which ``task(n)`` takes about ``seconds`` on this machine.

    ``task``'s time must grow in proportion to its size (loop turns, bytes to hash). The
    size grows fourfold until one call takes at least 10 ms, long enough to time well, and
    is then scaled on the fastest of three timings, as ``timeit`` advises: a slower one
    measured another program's use of the CPU (a browser redrawing, say), not the task.
    """
    if seconds <= 0:
        raise ValueError(f"seconds={seconds!r}: give a positive duration, such as 0.25")
    size = max(1, start)
    while _seconds(task, size) < 0.01:
        size *= 4
    fastest = min(_seconds(task, size) for _ in range(3))
    return max(1, round(size * seconds / fastest))


def _seconds(task: Callable[[int], object], size: int) -> float:
    with Timer() as timer:
        task(size)
    return timer.seconds
