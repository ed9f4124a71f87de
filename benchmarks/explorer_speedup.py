"""Speed-up of a CPU-bound batch with 2 workers over 1, as the worker-count explorer measures it.

Run from the repository root, with the course's environment:

    .venv/bin/python benchmarks/explorer_speedup.py            # about a minute
    .venv/bin/python benchmarks/explorer_speedup.py --quick    # a few seconds, to try it

For each start method it runs the explorer's sweep (1 and 2 workers) on processes and on
threads, side by side in this one run, several times, and prints each speed-up and their
median. With 2 usable CPUs, processes should approach 2x (the limit) and threads stay near
1x, since a pure-Python loop holds the GIL. Run it on an otherwise idle machine: another
busy process takes CPU time from the two workers but not from the one.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys

from course.cpus import usable_cpu_count
from course.explorer import WorkerExplorer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small batches and one repeat, to check that it runs")
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    tasks, task_seconds, repeats = (4, 0.02, 1) if arguments.quick else (16, 0.1, arguments.repeats)

    print(f"Python {sys.version.split()[0]}, {usable_cpu_count()} usable CPUs; "
          f"{tasks} CPU-bound tasks of about {task_seconds} s")
    print(f"{'start method':>12} {'executor':>9}  speed-up with 2 workers over 1 (each run; median)")
    medians = {}
    for method in multiprocessing.get_all_start_methods():
        for executor in ("processes", "threads"):
            if executor == "threads" and method != multiprocessing.get_all_start_methods()[0]:
                continue  # threads have no start method: measure them once
            explorer = WorkerExplorer(
                workload="cpu", executor=executor, workers=2, tasks=tasks, task_seconds=task_seconds,
                start_method=method,
            )
            speedups = [explorer.run().speedup(2) for _ in range(repeats)]
            medians[method, executor] = statistics.median(speedups)
            label = method if executor == "processes" else "-"
            runs = " ".join(f"{s:.2f}x" for s in speedups)
            print(f"{label:>12} {executor:>9}  {runs}; median {medians[method, executor]:.2f}x")
    best_threads = max(v for (m, e), v in medians.items() if e == "threads")
    for (method, executor), median in medians.items():
        if executor == "processes":
            print(f"processes ({method}) against threads: {median / best_threads:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
