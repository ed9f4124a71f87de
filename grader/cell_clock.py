"""The clock a cell's timeout counts: wall time, less the time the machine held the cell back."""

from __future__ import annotations

import threading
import time

__all__ = ["CellClock"]


class CellClock:
    """Seconds since :meth:`start`, less the time the notebook's processes wanted a CPU and
    did not get one (another program had it).

    The watchdog thread calls :meth:`sample` a few times a second with what the notebook's
    processes have used. Between two samples the processes wanted ``min(runnable, cpus)``
    CPUs (threads running or waiting to run, averaged over both samples) and got ``used /
    elapsed``; what they did not get, as a share of what they wanted (or of one CPU when they
    wanted less), counts as held back. A notebook that waits (a
    deadlock, a sleep, a join on a hung process) wants no CPU and is never held back; one that
    starts more workers than there are CPUs is not held back by its own workers. Where the
    processes cannot be read, nothing counts as held back: the clock is the wall clock.
    """

    def __init__(self, cpus: int) -> None:
        self.cpus = max(1, cpus)
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._held = 0.0
        self._last: tuple[float, float, int] | None = None  # (time, CPU seconds, runnable threads)

    def start(self, now: float | None = None) -> None:
        """Start counting a new cell."""
        with self._lock:
            self._started, self._held = time.monotonic() if now is None else now, 0.0

    def sample(self, cpu_seconds: float, runnable: int, now: float | None = None) -> None:
        """Take one reading of the notebook's processes: their CPU seconds so far, and how many
        of their threads run or wait to run now."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if self._last is not None:
                then, cpu_then, runnable_then = self._last
                elapsed = now - max(then, self._started)
                wanted = min((runnable + runnable_then) / 2, self.cpus)
                if elapsed > 0 and wanted > 0:
                    # CPU time goes down when a process's parent is not the notebook's.
                    got = max(0.0, cpu_seconds - cpu_then) / (now - then)
                    # Below one CPU, ``wanted`` is the share of the time a thread waited to run.
                    self._held += elapsed * min(1.0, max(0.0, (wanted - got) / max(wanted, 1.0)))
            self._last = (now, cpu_seconds, runnable)

    def wall(self, now: float | None = None) -> float:
        """Wall-clock seconds since :meth:`start`."""
        return (time.monotonic() if now is None else now) - self._started

    @property
    def held(self) -> float:
        """Seconds since :meth:`start` that the machine held the cell back."""
        with self._lock:
            return self._held

    def seconds(self, now: float | None = None) -> float:
        """Seconds since :meth:`start` that the machine let the cell run."""
        with self._lock:
            return max(0.0, self.wall(now) - self._held)
