"""How long the class report takes for a class of 40: ``python3 run.py report`` on a synthetic
graded class, as a command and phase by phase.

Run from the repository root, with the course's environment:

    .venv/bin/python benchmarks/report.py                   # 40 students, 3 rounds: ~1 minute
    .venv/bin/python benchmarks/report.py --students 200 --rounds 5
    .venv/bin/python benchmarks/report.py --quick           # 5 students, one round, to check that it runs

It builds a course in a temporary folder with a graded class and no kernel
(tests/support/graded_class.py: a gradebook written through nbgrader's API, and graded
notebooks as the course's grader leaves them), whose students are honest, wrong in two ways,
blank, flagged, hung, capped and writing to stderr, in turn. Each round then times:

* the command, ``python -m grader.report <assignment>`` in a fresh process, as ``run.py
  report`` runs it (start-up and importing nbgrader included);
* in this process, after a first warm-up run: reading nbgrader's configuration, gathering
  (the gradebook and the graded notebooks), and writing the page (three figures) and its CSV files.

It prints each round and the medians. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The test-support package (tests/support/), for the synthetic graded class. It imports no test module.
sys.path.insert(0, str(ROOT / "tests"))

from grader.plan import resolve  # noqa: E402
from grader.report_data import gather  # noqa: E402
from grader.report_render import write_report  # noqa: E402
from support.graded_class import ASSIGNMENT, make_class, typical_class  # noqa: E402


def command_seconds(course: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "grader.report", ASSIGNMENT], cwd=course, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"the report failed in {course}:\n{done.stderr[-3000:]}")
    return seconds


def phases(course: Path) -> tuple[float, float, float]:
    """Seconds to read the configuration, to gather the class's results, and to write the files."""
    start = time.perf_counter()
    settings = resolve(course, ASSIGNMENT, [])
    configured = time.perf_counter()
    data = gather(settings)
    gathered = time.perf_counter()
    write_report(data, course / "reports")
    return configured - start, gathered - configured, time.perf_counter() - gathered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=40, help="the class's size (default 40)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (default 3)")
    parser.add_argument("--quick", action="store_true", help="5 students, one round")
    args = parser.parse_args()
    students, rounds = (5, 1) if args.quick else (args.students, args.rounds)
    with tempfile.TemporaryDirectory(prefix="report-benchmark-") as folder:
        course = make_class(Path(folder) / "course", typical_class(students))
        phases(course)  # warm-up: imports nbgrader, matplotlib and jinja2 in this process
        commands, configs, gathers, writes = [], [], [], []
        print(f"The class report of {students} graded students ({ASSIGNMENT}, {rounds} round(s)):")
        for round_ in range(1, rounds + 1):
            commands.append(command_seconds(course))
            config, gathering, writing = phases(course)
            configs.append(config)
            gathers.append(gathering)
            writes.append(writing)
            print(f"  round {round_}: command {commands[-1]:.2f} s; in-process: configuration {config:.2f} s, "
                  f"gathering {gathering:.2f} s, writing {writing:.2f} s", flush=True)
        page = course / "reports" / f"{ASSIGNMENT}.html"
        print(f"median: the command took {statistics.median(commands):.2f} s; generating the report "
              f"(gathering and writing) {statistics.median(gathers) + statistics.median(writes):.2f} s "
              f"(gathering {statistics.median(gathers):.2f} s, writing {statistics.median(writes):.2f} s, "
              f"configuration {statistics.median(configs):.2f} s); the page is {page.stat().st_size // 1024} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
