"""Measure a batch of tasks against the number of workers that run it."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from course import workers as course_workers
from course.cpus import usable_cpu_count
from course.net import LocalServer
from course.timing import Timer, size_for
from course.workers import ExplorerResult

__all__ = [
    "EXECUTORS",
    "WORKLOADS",
    "Measurements",
    "Point",
    "Run",
    "Settings",
    "TaskRecord",
    "sweep",
    "worker_counts",
]

EXECUTORS = ("processes", "threads")

# What each workload's task does, as the figure and the tables name it.
WORKLOADS = {
    "cpu": "CPU-bound: a pure-Python loop",
    "io": "IO-bound: time.sleep",
    "hashlib": "C code that releases the GIL: hashlib.sha256",
    "download": "IO-bound: downloads from a local HTTP server",
}

# How long a warm-up task sleeps: long enough that each worker that is ready takes one
# and holds it, so the next ones go to workers that are still starting.
_WARM_UP_SECONDS = 0.05
# How often the waiting loop looks at the stop button and the time limit.
_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Settings:
    """What to measure: ``tasks`` tasks of ``workload``, each about ``task_seconds`` long on
    one CPU, run by 1, 2, ... up to ``workers`` workers of ``executor``."""

    workload: str = "cpu"
    executor: str = "processes"
    workers: int = 2
    tasks: int = 8
    task_seconds: float = 0.05
    start_method: str | None = None  # for processes; None means multiprocessing's default
    time_limit: float = 60.0  # seconds for the whole sweep

    def __post_init__(self) -> None:
        if self.workload not in WORKLOADS:
            raise ValueError(f"workload {self.workload!r} is not one of {sorted(WORKLOADS)}: pick one of those")
        if self.executor not in EXECUTORS:
            raise ValueError(f"executor {self.executor!r} is not one of {list(EXECUTORS)}: pick one of those")
        for name in ("workers", "tasks"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
        if not self.task_seconds > 0 or not self.time_limit > 0:
            raise ValueError("task_seconds and time_limit must be positive numbers of seconds")
        if self.start_method is not None and self.start_method not in multiprocessing.get_all_start_methods():
            raise ValueError(
                f"start method {self.start_method!r} does not exist here: use one of "
                f"{multiprocessing.get_all_start_methods()} or None for the default"
            )


@dataclass(frozen=True)
class TaskRecord:
    """One task of a batch: which worker ran it (0, 1, ... in the order they first started a
    task), and when it started and ended, in seconds since the batch was submitted.

    ``running`` holds, for CPU-bound tasks, the stretches between ``start`` and ``end`` in
    which the task was actually running: threads that share one GIL take turns, so theirs
    alternate. Other workloads are not sampled and leave it empty.
    """

    task: int
    worker: int
    start: float
    end: float
    running: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Run:
    """One batch: its wall time with ``workers`` workers already started, the time it took
    to start them (measured apart, since it is a cost of the pool, not of the work), and
    every task's record."""

    workers: int
    seconds: float
    startup_seconds: float
    tasks: tuple[TaskRecord, ...]


@dataclass(frozen=True)
class Point:
    """Wall time against workers, and the speed-up over one worker: ``seconds(1) / seconds``."""

    workers: int
    seconds: float
    speedup: float


@dataclass(frozen=True)
class Measurements:
    """What a sweep measured, with the settings and the machine's usable CPU count.

    ``stopped`` says why the sweep ended early (the stop button, or the time limit), and is
    ``None`` when every run finished.
    """

    settings: Settings
    usable_cpus: int
    start_method: str | None
    runs: tuple[Run, ...]
    stopped: str | None = None

    @property
    def points(self) -> list[Point]:
        """Seconds and speed-up for each worker count measured."""
        if not self.runs:
            return []
        one = self.runs[0].seconds  # the sweep always measures one worker first
        return [Point(run.workers, run.seconds, one / run.seconds) for run in self.runs]

    def speedup(self, workers: int) -> float:
        """The speed-up that ``workers`` workers achieved over one."""
        for point in self.points:
            if point.workers == workers:
                return point.speedup
        measured = [point.workers for point in self.points]
        raise KeyError(f"{workers} workers were not measured (measured: {measured}): "
                       "raise the workers slider to reach it")

    @property
    def timeline(self) -> tuple[TaskRecord, ...]:
        """The task records of the run with the most workers."""
        return self.runs[-1].tasks if self.runs else ()

    def __str__(self) -> str:
        s = self.settings
        method = f", start method {self.start_method}" if s.executor == "processes" else ""
        lines = [
            f"{s.tasks} tasks, {WORKLOADS[s.workload]}, about {s.task_seconds:g} s each, on {s.executor}{method}",
            f"usable CPUs: {self.usable_cpus}",
            f"{'workers':>7} {'seconds':>8} {'speed-up':>8} {'start-up':>9}",
        ]
        for point, run in zip(self.points, self.runs, strict=True):
            lines.append(f"{point.workers:>7} {point.seconds:>8.3f} {point.speedup:>7.2f}x "
                         f"{run.startup_seconds:>8.3f}s")
        if self.stopped:
            lines.append(f"stopped early: {self.stopped}")
        return "\n".join(lines)


class _Stopped(Exception):
    """The stop event was set, or the time limit passed."""


def worker_counts(most: int) -> list[int]:
    """The worker counts a sweep up to ``most`` measures: every count up to 8, then doublings
    and ``most`` itself, so that a sweep to 64 takes 10 runs rather than 64."""
    counts = set(range(1, min(most, 8) + 1))
    n = 8
    while n < most:
        counts.add(n)
        n *= 2
    counts.add(most)
    return sorted(counts)


def sweep(
    settings: Settings,
    *,
    stop: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Measurements:
    """Run the batch with each of ``worker_counts(settings.workers)`` workers, in turn.

    ``progress(done, total)`` is called as tasks finish. Setting ``stop`` ends the sweep
    within about one task's time; so does the time limit. Either way the runs finished so
    far are returned, with ``stopped`` saying why.
    """
    stop = stop or threading.Event()
    method = None
    if settings.executor == "processes":
        method = settings.start_method or multiprocessing.get_start_method()
    size = _task_size(settings.workload, settings.task_seconds)
    counts = worker_counts(settings.workers)
    total = settings.tasks * len(counts)
    deadline = time.perf_counter() + settings.time_limit
    runs: list[Run] = []
    stopped = None
    done = 0

    def one_done() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    try:
        with contextlib.ExitStack() as stack:
            urls: list[str] = []
            if settings.workload == "download":
                # The sweep's own server, answering each request after one task's time.
                server = stack.enter_context(LocalServer(delay=settings.task_seconds))
                urls = server.urls(settings.tasks)
            for count in counts:
                runs.append(_run_batch(settings, method, count, size, urls, deadline, stop, one_done))
    except _Stopped as why:
        stopped = str(why)
    return Measurements(settings, usable_cpu_count(), method, tuple(runs), stopped)


def _task_size(workload: str, seconds: float) -> float:
    """The task size that takes about ``seconds`` on one CPU of this machine, so that the
    same settings make a sweep of the same length on a slow laptop and a fast server."""
    if workload in ("io", "download"):
        return seconds  # a sleep's length, or (for download) unused: the server sets the delay
    start = 10_000 if workload == "cpu" else 1 << 20
    return size_for(lambda size: course_workers.explorer_task(workload, size), seconds, start)


def _executor(settings: Settings, method: str | None, workers: int) -> cf.Executor:
    if settings.executor == "threads":
        return cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="explorer")
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))


def _run_batch(
    settings: Settings,
    method: str | None,
    workers: int,
    size: float,
    urls: Sequence[str],
    deadline: float,
    stop: threading.Event,
    one_done: Callable[[], None],
) -> Run:
    executor = _executor(settings, method, workers)
    futures: list[cf.Future[ExplorerResult]] = []
    try:
        with Timer() as startup:
            _warm_up(executor, workers, deadline, stop)
        begin = time.perf_counter()
        futures = [
            executor.submit(course_workers.explorer_task, settings.workload, size, urls[task] if urls else "")
            for task in range(settings.tasks)
        ]
        _wait(futures, deadline, stop, one_done)
        seconds = time.perf_counter() - begin
    finally:
        # On a stop, the time limit or an interrupt: drop the tasks not yet started; the
        # ones running end within a task's time, so the wait below is short.
        for future in futures:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)
    return Run(workers, seconds, startup.seconds, _records(futures, begin))


def _warm_up(executor: cf.Executor, workers: int, deadline: float, stop: threading.Event) -> None:
    """Start every worker before the clock starts, so that the batch's time is the work's.

    Both executors start workers on demand, and a process takes a while to start (much
    longer under spawn), so short sleeps are submitted until every worker has run one:
    each sleep keeps a ready worker busy while the slower ones finish starting.
    """
    seen: set[tuple[int, int]] = set()
    for _ in range(50):  # 50 rounds of 0.05 s: 2.5 s for the slowest worker to start
        batch = [executor.submit(course_workers.explorer_task, "io", _WARM_UP_SECONDS) for _ in range(workers)]
        _wait(batch, deadline, stop, lambda: None)
        seen.update(future.result()[:2] for future in batch)
        if len(seen) >= workers:
            return


def _wait(
    futures: Sequence[cf.Future[ExplorerResult]],
    deadline: float,
    stop: threading.Event,
    one_done: Callable[[], None],
) -> None:
    """Wait for every future, polling the stop event and the deadline; re-raise a task's error."""
    pending = set(futures)
    while pending:
        if stop.is_set():
            raise _Stopped("the stop button was pressed")
        if time.perf_counter() > deadline:
            raise _Stopped("the time limit was reached: use fewer tasks or workers, or a larger time_limit")
        finished, pending = cf.wait(pending, timeout=_POLL_SECONDS, return_when=cf.FIRST_COMPLETED)
        for future in finished:
            future.result()
            one_done()


def _records(futures: Sequence[cf.Future[ExplorerResult]], begin: float) -> tuple[TaskRecord, ...]:
    """Turn (pid, thread id, start, end) into records; number the workers 0, 1, ... in the
    order they first started a task."""
    results = [future.result() for future in futures]
    first_start: dict[tuple[int, int], float] = {}
    for pid, thread, start, *_ in results:
        first_start[pid, thread] = min(start, first_start.get((pid, thread), start))
    number = {who: n for n, who in enumerate(sorted(first_start, key=first_start.__getitem__))}
    return tuple(
        TaskRecord(
            task,
            number[pid, thread],
            start - begin,
            end - begin,
            tuple((a - begin, b - begin) for a, b in running),
        )
        for task, (pid, thread, start, end, running) in enumerate(results)
    )

