"""Threads speed up waiting, processes speed up computing: both measured side by side.

Run from the repository root, with the course's environment:

    .venv/bin/python benchmarks/threads_and_processes.py            # about half a minute
    .venv/bin/python benchmarks/threads_and_processes.py --quick    # a few seconds, to try it

Two measurements, each repeated and reported as each run and the median:

1. Downloads: 32 pages from the course's local HTTP server (``course.net.LocalServer``),
   each answered after 0.1 s, fetched by a ``ThreadPoolExecutor`` of 1 thread and of 16.
   The waiting overlaps, so 16 threads should be close to 16x faster (expect at least 8x).
2. A CPU-bound batch (``course.workers.spin``, a pure-Python loop) run serially in this
   process, then by 2 threads and by 2 processes. Threads share one GIL, so they should be
   no faster than serial (at most 1.2x); processes each have their own, so on 2 usable CPUs
   they should approach 2x (at least 1.8x). The pools are started before the clock starts,
   as the explorer does, so the ratio is the work's; the start-up is printed apart.

Run it on an otherwise idle machine: another busy process takes CPU time from the two
workers but not from the one, and would lower the process ratio.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import statistics
import sys
from collections.abc import Callable

from course import workers
from course.cpus import usable_cpu_count
from course.net import LocalServer, fetch
from course.timing import Timer, size_for


def download_seconds(threads: int, pages: int, delay: float) -> float:
    """Seconds for ``threads`` threads to fetch ``pages`` pages that each wait ``delay`` s."""
    with LocalServer(delay=delay) as server:
        urls = server.urls(pages)
        with cf.ThreadPoolExecutor(max_workers=threads) as pool, Timer() as timer:
            bodies = list(pool.map(fetch, urls))
    assert bodies == [f"/page/{n}".encode() for n in range(pages)], "the downloads came back wrong"
    return timer.seconds


def cpu_seconds(make_pool: Callable[[int], cf.Executor] | None, tasks: int, size: int) -> tuple[float, float]:
    """Seconds for the CPU-bound batch, and the pool's start-up (0 for serial)."""
    if make_pool is None:
        with Timer() as timer:
            for _ in range(tasks):
                workers.spin(size)
        return timer.seconds, 0.0
    with Timer() as startup:
        pool = make_pool(2)
        # Both executors start workers on demand: short sleeps make every worker start.
        list(pool.map(workers.explorer_task, ["io"] * 4, [0.05] * 4))
    try:
        with Timer() as timer:
            list(pool.map(workers.spin, [size] * tasks))
    finally:
        pool.shutdown()
    return timer.seconds, startup.seconds


def report(label: str, values: list[float], unit: str = "x") -> float:
    median = statistics.median(values)
    print(f"  {label:<34} {' '.join(f'{v:.2f}{unit}' for v in values)}; median {median:.2f}{unit}")
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small batches and one repeat, to check that it runs")
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    repeats = 1 if arguments.quick else arguments.repeats
    pages, delay = (8, 0.02) if arguments.quick else (32, 0.1)
    tasks, task_seconds = (4, 0.02) if arguments.quick else (8, 0.25)
    method = multiprocessing.get_start_method()
    print(f"Python {sys.version.split()[0]}, {usable_cpu_count()} usable CPUs, start method {method}")

    print(f"Downloads: {pages} pages, each answered after {delay} s; speed-up of 16 threads over 1")
    ratios = []
    for _ in range(repeats):
        one, sixteen = download_seconds(1, pages, delay), download_seconds(16, pages, delay)
        ratios.append(one / sixteen)
        print(f"  1 thread {one:.2f} s, 16 threads {sixteen:.2f} s")
    downloads = report("16 threads over 1", ratios)

    size = size_for(workers.spin, task_seconds)
    print(f"CPU-bound: {tasks} tasks of about {task_seconds} s each; speed-up over serial")
    thread_ratios, process_ratios, startups = [], [], []
    for _ in range(repeats):
        serial, _ = cpu_seconds(None, tasks, size)
        threads, _ = cpu_seconds(cf.ThreadPoolExecutor, tasks, size)
        processes, startup = cpu_seconds(cf.ProcessPoolExecutor, tasks, size)
        thread_ratios.append(serial / threads)
        process_ratios.append(serial / processes)
        startups.append(startup)
        print(f"  serial {serial:.2f} s, 2 threads {threads:.2f} s, 2 processes {processes:.2f} s")
    threads_median = report("2 threads over serial", thread_ratios)
    processes_median = report("2 processes over serial", process_ratios)
    report("2 processes' start-up (not timed)", startups, unit=" s")

    print("Expected: downloads at least 8x; threads at most 1.2x; processes at least 1.8x (with 2 usable CPUs)")
    print(
        f"Measured: downloads {downloads:.2f}x, threads {threads_median:.2f}x, processes {processes_median:.2f}x; "
        f"processes over threads {processes_median / threads_median:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
