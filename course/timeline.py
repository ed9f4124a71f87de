"""A timeline of what ran when: spans of named stages, from threads, coroutines and processes.

    timeline = Timeline()
    with timeline.span("download", "page 3"):
        body = await fetch_async(url)          # or any code: a thread's, a coroutine's
    count, start, end = future.result()         # course.workers.timed_count_words in a child
    timeline.add("count", "page 3", start, end)
    print(f"downloads and counts overlapped for {timeline.overlap('download', 'count'):.1f} s")

``course.plots.timeline_figure(timeline)`` draws it: one lane per stage (and worker).

Every time is a ``time.perf_counter()`` reading, in seconds. A child process's readings
compare with its parent's because perf_counter is one system-wide clock, not a per-process
one: on Linux it is ``clock_gettime(CLOCK_MONOTONIC)`` (time since boot, shared by every
process of the machine; check with ``time.get_clock_info("perf_counter")``); on macOS it is
``mach_absolute_time()`` and on Windows ``QueryPerformanceCounter()``, both system-wide since
Python 3.10 (bpo-37205 removed the per-process offset that earlier versions subtracted).
So on every platform the course supports (3.11 and later) a span measured in a child, under
``fork``, ``spawn`` or ``forkserver``, lies where it happened on the parent's timeline.
Across machines, or against ``time.time()``, the readings do not compare.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

__all__ = ["Span", "Timeline"]


@dataclass(frozen=True)
class Span:
    """One piece of work: its stage (``"download"``), its label (``"page 3"``), when it
    started and ended (perf_counter seconds), and optionally the worker that ran it (a
    thread's name, a process id) for a lane of its own in the figure."""

    stage: str
    label: str
    start: float
    end: float
    worker: str | int | None = None

    @property
    def seconds(self) -> float:
        """How long it ran."""
        return self.end - self.start


class Timeline:
    """Spans recorded from any thread or coroutine (adding one takes a lock), in start order.

    ``span(stage, label)`` is a context manager that times its block; ``add(stage, label,
    start, end)`` records a span measured elsewhere, e.g. in a child process. ``origin``
    is the perf_counter reading when the timeline was made: ``relative_spans`` gives the
    spans in seconds since then, for plotting.
    """

    def __init__(self) -> None:
        self.origin = time.perf_counter()
        self._lock = threading.Lock()
        self._spans: list[Span] = []

    def __repr__(self) -> str:
        return f"<Timeline of {len(self)} spans in stages {self.stages}>"

    def __len__(self) -> int:
        with self._lock:
            return len(self._spans)

    # -- recording ------------------------------------------------------------------------

    @contextlib.contextmanager
    def span(self, stage: str, label: str = "", worker: str | int | None = None) -> Iterator[None]:
        """Time the ``with`` block as a span of ``stage``.

        It reads the clock when the block starts and ends, so inside a coroutine the span
        covers its ``await`` too (the time the coroutine waited, not only the time it ran).
        The span is recorded even when the block raises.
        """
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, label, start, time.perf_counter(), worker=worker)

    def add(self, stage: str, label: str, start: float, end: float, worker: str | int | None = None) -> Span:
        """Record a span measured elsewhere (``time.perf_counter()`` readings); return it."""
        if not isinstance(stage, str) or not stage:
            raise TypeError(f"stage must be a non-empty str such as 'download', not {stage!r}")
        if not end >= start:
            raise ValueError(f"a span must end at or after its start: start={start!r}, end={end!r}")
        new = Span(stage, str(label), float(start), float(end), worker)
        with self._lock:
            self._spans.append(new)
        return new

    # -- reading --------------------------------------------------------------------------

    @property
    def spans(self) -> list[Span]:
        """Every span so far, in start order (a copy)."""
        with self._lock:
            spans = list(self._spans)
        spans.sort(key=lambda s: (s.start, s.end))
        return spans

    @property
    def relative_spans(self) -> list[Span]:
        """``spans`` with start and end in seconds since the timeline was made."""
        return [replace(s, start=s.start - self.origin, end=s.end - self.origin) for s in self.spans]

    @property
    def stages(self) -> list[str]:
        """The stages, in the order of their first span's start."""
        return list(dict.fromkeys(s.stage for s in self.spans))

    def elapsed(self) -> float:
        """Seconds from the timeline's creation to the end of its last span (0 when empty)."""
        return max((s.end for s in self.spans), default=self.origin) - self.origin

    def busy(self, stage: str) -> float:
        """Seconds during which at least one span of ``stage`` was running (overlaps counted once)."""
        return _length(self._union(stage))

    def overlap(self, stage_a: str, stage_b: str) -> float:
        """Seconds during which both stages had a span running at once.

        0 when one always waited for the other (all downloads, then all counts); close to
        the shorter stage's ``busy`` when the two ran side by side. A stage with no spans
        overlaps nothing.
        """
        a, b = self._union(stage_a), self._union(stage_b)
        total, i, j = 0.0, 0, 0
        while i < len(a) and j < len(b):
            low, high = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
            if high > low:
                total += high - low
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return total

    def _union(self, stage: str) -> list[tuple[float, float]]:
        """The stage's spans merged into disjoint intervals, in order."""
        merged: list[tuple[float, float]] = []
        for s in self.spans:  # in start order
            if s.stage != stage:
                continue
            if merged and s.start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], s.end))
            else:
                merged.append((s.start, s.end))
        return merged


def _length(intervals: list[tuple[float, float]]) -> float:
    return sum(end - start for start, end in intervals)
