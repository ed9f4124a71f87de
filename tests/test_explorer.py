"""The worker-count explorer, driven as a student drives it (sliders, Run, Stop) and through
its programmatic API, under every start method.

These tests check what was measured and drawn, not how fast: speed-ups are timing claims,
and benchmarks/explorer_speedup.py measures them side by side.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from course.checks import can_pin, pinned_to_one_cpu
from course.cpus import usable_cpu_count
from course.explorer import WorkerExplorer
from course.sweep import Settings, sweep, worker_counts
from course.timing import Timer, TimerError, size_for

PNG = b"\x89PNG\r\n\x1a\n"
# Generous bounds for waits that only end early if something is broken: a loaded 2-CPU
# machine starts a spawned process in well under a second.
WAIT = 60.0


def check_measurements(measurements, workers, tasks):
    """What any finished sweep must satisfy, whatever the machine's speed."""
    assert measurements.stopped is None
    assert measurements.usable_cpus == usable_cpu_count()
    assert [point.workers for point in measurements.points] == list(range(1, workers + 1))
    assert measurements.points[0].speedup == 1.0
    for point, run in zip(measurements.points, measurements.runs, strict=True):
        assert point.seconds == run.seconds > 0
        assert math.isclose(point.speedup, measurements.runs[0].seconds / run.seconds)
        assert run.startup_seconds > 0
        assert [record.task for record in run.tasks] == list(range(tasks))
        used = {record.worker for record in run.tasks}
        assert used == set(range(len(used))) and len(used) <= run.workers, (
            "workers are numbered 0, 1, ... and no more than asked"
        )
        for record in run.tasks:
            assert 0 <= record.start < record.end <= run.seconds + 0.01, f"a task ran outside its batch: {record}"
    assert measurements.timeline == measurements.runs[-1].tasks


@pytest.mark.parametrize("method", multiprocessing.get_all_start_methods())
def test_run_button_with_processes(method):
    """Set the sliders, press Run, wait: measurements, progress, figure and image agree."""
    explorer = WorkerExplorer(workload="io", executor="processes", start_method=method, task_seconds=0.02)
    assert explorer.image.layout.display == "none", "before a run the empty image shows as a broken icon"
    explorer.workers_slider.value = 3  # as a student drags it
    explorer.tasks = 6
    explorer.run_button.click()
    assert explorer.running and explorer.run_button.disabled and not explorer.stop_button.disabled
    measurements = explorer.wait(WAIT)
    assert measurements is not None, f"a run of 18 short sleeps did not finish in {WAIT} s"
    assert explorer.error is None
    check_measurements(measurements, workers=3, tasks=6)
    assert measurements.start_method == method
    assert not explorer.run_button.disabled and explorer.stop_button.disabled
    assert explorer.progress.value == explorer.progress.max == 18
    assert bytes(explorer.image.value[:8]) == PNG and explorer.image.layout.display == ""
    assert f"<b>{usable_cpu_count()}</b> CPUs" in explorer.status.value

    time_axes, speedup_axes, timeline_axes = explorer.figure.axes
    assert list(time_axes.lines[0].get_ydata()) == [run.seconds for run in measurements.runs]
    measured, ideal = speedup_axes.lines[:2]
    assert list(measured.get_xdata()) == [1, 2, 3]
    assert list(measured.get_ydata()) == [point.speedup for point in measurements.points]
    assert list(ideal.get_xdata()) == list(ideal.get_ydata()) == [1, 3], "the ideal line is speed-up = workers"
    assert len(timeline_axes.collections) == 6, "the timeline draws one bar per task"
    # (Not psutil's children: spawn and forkserver keep a resource tracker, and forkserver
    # its server, for the rest of this process's life.)
    assert not multiprocessing.active_children(), "the process pool's workers outlived the run"


@pytest.mark.parametrize("method", multiprocessing.get_all_start_methods())
def test_run_in_code_cpu_bound(method):
    """run() blocks and returns the measurements; the table names what was measured."""
    explorer = WorkerExplorer(workload="cpu", executor="processes", workers=2, tasks=4, task_seconds=0.02,
                              start_method=method)
    measurements = explorer.run()
    check_measurements(measurements, workers=2, tasks=4)
    assert explorer.measurements is measurements
    text = str(measurements)
    assert f"usable CPUs: {usable_cpu_count()}" in text and f"start method {method}" in text
    assert len(text.splitlines()) == 3 + 2, text
    assert measurements.speedup(2) == measurements.points[1].speedup
    with pytest.raises(KeyError, match="raise the workers slider"):
        measurements.speedup(5)


@pytest.mark.parametrize("workload", ["cpu", "io", "hashlib", "download"])
def test_threads_every_workload(workload):
    explorer = WorkerExplorer(workload=workload, executor="threads", workers=2, tasks=4, task_seconds=0.02)
    check_measurements(explorer.run(), workers=2, tasks=4)


@pytest.mark.parametrize("method", multiprocessing.get_all_start_methods())
def test_downloads_with_processes(method):
    """The download workload reaches the sweep's own server from child processes too, and
    the server is gone when the sweep ends."""
    before = {thread.name for thread in threading.enumerate()}
    measurements = sweep(Settings("download", "processes", workers=2, tasks=4, task_seconds=0.02, start_method=method))
    check_measurements(measurements, workers=2, tasks=4)
    assert {thread.name for thread in threading.enumerate()} <= before, "the sweep's server left a thread behind"
    assert all(record.running == () for run in measurements.runs for record in run.tasks), "downloads are not sampled"


def test_cpu_bound_threads_take_turns():
    """The timeline's running stretches: inside each task, and (with a GIL) never two
    threads at once, beyond the sampling's resolution."""
    explorer = WorkerExplorer(workload="cpu", executor="threads", workers=2, tasks=4, task_seconds=0.05)
    measurements = explorer.run()
    records = measurements.timeline
    for record in records:
        assert record.running, f"a CPU-bound task has no running stretches: {record}"
        for a, b in record.running:
            assert record.start <= a <= b <= record.end, f"a running stretch lies outside its task: {record}"
    ran = {worker: [s for r in records if r.worker == worker for s in r.running] for worker in (0, 1)}
    overlap = sum(max(0.0, min(b, d) - max(a, c)) for a, b in ran[0] for c, d in ran[1])
    total = sum(b - a for stretches in ran.values() for a, b in stretches)
    if getattr(sys, "_is_gil_enabled", lambda: True)():
        # Each switch of the GIL can overlap two stretches by about one sampling slice
        # (microseconds) against a switch interval of 5 ms: 10% leaves a wide margin.
        assert overlap < 0.1 * total, f"threads ran at once for {overlap:.3f} s of {total:.3f} s, with a GIL"
    timeline_axes = explorer.figure.axes[2]
    assert len(timeline_axes.collections) == 2 * len(records), "each CPU-bound task: its span, and where it ran"


def test_stop_button_ends_a_long_run():
    """Stop ends a long run within about one task's time, and keeps what finished."""
    # 64 tasks of 0.5 s: the first batch, with one worker, takes 32 s, and the whole sweep
    # over 1 to 4 workers 67 s (its time limit, 60 s, would end it before that).
    explorer = WorkerExplorer(workload="io", executor="threads", workers=4, tasks=64, task_seconds=0.5,
                              time_limit=120)
    explorer.tasks = 64
    explorer.start()
    time.sleep(0.5)
    assert explorer.running
    with Timer() as timer:
        explorer.stop_button.click()
        measurements = explorer.wait(WAIT)
    assert measurements is not None and not explorer.running
    assert measurements.stopped == "the stop button was pressed"
    # Stopping takes one task (0.5 s) and drawing what finished (a CPU fifth of a second when
    # idle, 5 s seen beside the whole suite). 20 s leaves room for a busy machine and still
    # tells a stop from a run that went on: the first batch alone had 31 s left.
    assert timer.seconds < 20, f"stopping took {timer.seconds:.1f} s: expected about one task's time (0.5 s)"
    assert "Stopped early" in explorer.status.value and not explorer.run_button.disabled
    assert len(measurements.runs) < len(worker_counts(4))


def test_time_limit_bounds_a_run():
    measurements = sweep(Settings("io", "threads", workers=2, tasks=100, task_seconds=0.05, time_limit=0.5))
    assert measurements.stopped and "time limit" in measurements.stopped
    assert measurements.runs == ()


def test_bad_settings_say_how_to_fix_them():
    with pytest.raises(ValueError, match="pick one of those"):
        WorkerExplorer(workload="gpu")
    with pytest.raises(ValueError, match="pick one of those"):
        WorkerExplorer(executor="fibers")
    with pytest.raises(ValueError, match="at least 1"):
        WorkerExplorer(tasks=0)
    explorer = WorkerExplorer()
    assert explorer.workers == usable_cpu_count()
    most = explorer.workers_slider.max
    assert most >= 4 * usable_cpu_count() or most == 64
    with pytest.raises(ValueError, match=f"from 1 to {most}"):
        explorer.workers = most + 1
    with pytest.raises(ValueError, match="pick one of those"):
        explorer.executor = "fibers"
    with pytest.raises(RuntimeError, match="press Run"):
        explorer.show_figure()


def test_worker_counts():
    assert worker_counts(1) == [1]
    assert worker_counts(5) == [1, 2, 3, 4, 5]
    assert worker_counts(64) == [1, 2, 3, 4, 5, 6, 7, 8, 16, 32, 64]
    assert worker_counts(12) == [1, 2, 3, 4, 5, 6, 7, 8, 12]


def test_usable_cpu_count():
    assert usable_cpu_count() >= 1
    if hasattr(os, "sched_getaffinity"):
        assert usable_cpu_count() == len(os.sched_getaffinity(0))
    if can_pin():
        with pinned_to_one_cpu():
            assert usable_cpu_count() == 1


def test_timer():
    with Timer("nap") as timer:
        time.sleep(0.01)
    assert timer.seconds >= 0.01
    with pytest.raises(TimerError, match=r"call \.start"):
        Timer().stop()
    timer = Timer("twice")
    timer.start()
    with pytest.raises(TimerError, match="'twice' is already running"):
        timer.start()


def test_benchmark_runs():
    """The speed-up benchmark runs and prints a speed-up for each start method (its numbers
    are for a person to read on an idle machine, so they are not checked here)."""
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "explorer_speedup.py"
    result = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for method in multiprocessing.get_all_start_methods():
        assert f"processes ({method}) against threads:" in result.stdout, result.stdout


def test_threads_and_processes_benchmark_runs():
    """The benchmark of issue-level claims (downloads on threads, CPU on processes) runs and
    prints its three ratios; their values are for a person to read on an idle machine."""
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "threads_and_processes.py"
    result = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    assert re.search(r"Measured: downloads [\d.]+x, threads [\d.]+x, processes [\d.]+x", result.stdout), result.stdout


def test_size_for_scales_a_task_to_a_duration(monkeypatch):
    """size_for finds the size at which a task whose time grows with its size takes the
    asked seconds, on its fastest timing; a bad duration gets a message that says what to give.
    (On a fake clock: a task of size n takes n microseconds, and its second timing is slow.)"""
    now = [0.0]
    calls = []

    def task(size):
        calls.append(size)
        now[0] += size * 1e-6 * (3 if len(calls) == 5 else 1)  # one slow timing, as under load

    monkeypatch.setattr("course.timing.time.perf_counter", lambda: now[0])
    assert size_for(task, 0.05, start=1000) == 50_000
    assert calls[:4] == [1000, 4000, 16_000, 16_000], "it should grow fourfold until a call takes 10 ms"
    with pytest.raises(ValueError, match="positive duration"):
        size_for(task, 0)
