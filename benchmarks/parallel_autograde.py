"""Autograding a class in parallel, on this machine and on a Dask cluster, against one
submission after another, in one run.

Run from the repository root, with the course's environment, on an otherwise idle machine:

    .venv/bin/python benchmarks/parallel_autograde.py            # 40 students of 01_processes: ~15 min on 2 CPUs
    .venv/bin/python benchmarks/parallel_autograde.py --assignment 02_communication --students 80 --jobs 8
    .venv/bin/python benchmarks/parallel_autograde.py --quick    # 2 students of 01_processes, 1 worker: does it run?

It builds a course in a temporary folder and a synthetic class from the answer corpus
(tests/answers/<assignment>/): the reference answers, the blank release notebook, and the
corpus's submissions (support.submissions: right answers, wrong ones, and, for
02_communication, answers that deadlock and that the hidden tests' time bounds end), taken
in turn until the class is full. Three copies of that course are graded, in this order:

* sequentially, by plain ``nbgrader autograde <assignment> --force``;
* in parallel on this machine, by ``python -m grader.autograde <assignment> --force --jobs N``
  (``python3 run.py autograde``), with N worker processes (default: one per usable CPU);
* on a Dask cluster, by ``python -m grader.autograde <assignment> --force --scheduler ADDRESS``,
  the cluster being a ``dask scheduler`` and N ``dask worker --nthreads 1`` processes on
  127.0.0.1 (started before the clock starts, as an instructor's cluster would be).

All use the course's nbgrader_config.py, so all grade with the hardened grader. It checks
that the gradebooks hold the same results (each student's score, review flag and comment
for every cell), and prints the wall times, each ratio, and the coordinator's own time per
submission (receiving a result and writing it into the gradebook and autograded/), from
which the number of workers one coordinator can keep busy follows.

Some wrong answers race (a counter without a lock, squares returned in the order processes
finish): whether they pass a test depends on how the processes happen to be scheduled,
graded sequentially or not. Students who hand in the same notebook are repeated trials of
it, so a cell that differs is checked against every sequential grading of that notebook:
if one of them gave the parallel run's result, the answer's score varies from run to run
anyway. A cell still unexplained is graded again, sequentially, up to ``--rechecks``
times. Exit status 1 if any cell differs otherwise.

What to expect: with N CPUs the ratio approaches N, less what cannot overlap: starting the
workers (each imports nbgrader once, ~2.5 s of CPU), the gradebook sessions (they take
turns; the command prints how long the lock was held in all), and the tail of the run,
when the last, longest notebooks run with fewer than N beside them. A notebook that
starts processes of its own can use more than one CPU, which the sequential run also
exploits, and a hanging notebook waits without computing, which the parallel run overlaps.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The test-support package (tests/support/): the course's layout and its answer corpus,
# which this benchmark grades. It imports no test module.
sys.path.insert(0, str(ROOT / "tests"))

import support  # noqa: E402
from course.cpus import usable_cpu_count  # noqa: E402
from grader.nbgrader_run import tools_on_path  # noqa: E402
from grader.summary import grades_of  # noqa: E402
from support.dask_cluster import dask_cluster  # noqa: E402


def synthetic_class(assignment: str, students: int) -> dict[str, tuple[str, Any]]:
    """student id (``s001-<submission>``) -> (kind, notebook): the corpus's submissions in turn."""
    kinds: list[tuple[str, str, Any]] = [
        ("reference", "honest", support.read(support.source_notebook(assignment))),
        ("blank", "blank", support.read(support.release_notebook(assignment))),
    ]
    for name, answers in support.submissions(assignment).items():
        hangs = any("deadlock" in answer.description.lower() or "hang" in answer.description.lower()
                    for answer in answers if not answer.right)
        kind = "hanging" if hangs else ("honest" if name.startswith("right") else "wrong")
        kinds.append((name, kind, support.student_notebook(assignment, answers)))
    made = {}
    for index in range(students):
        name, kind, notebook = kinds[index % len(kinds)]
        made[f"s{index + 1:03d}-{name}"] = (kind, notebook)
    return made


def timed(command: list[str], course: Path, log: Path) -> float:
    """Run ``command`` in ``course``; return its wall time, or exit showing its log."""
    start = time.perf_counter()
    with open(log, "w") as output, tools_on_path():
        status = subprocess.call(command, cwd=course, stdout=output, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if status not in (0, 1):  # 1: some student could not be graded, which both report alike
        sys.exit(f"{' '.join(command)} exited {status}; the end of its output:\n{log.read_text()[-3000:]}")
    return seconds


def compare(sequential: dict[str, Any], parallel: dict[str, Any]) -> dict[tuple[str, str], tuple[Any, Any]]:
    """Every difference between two gradebooks' results: (student, cell) -> (sequential, parallel)."""
    differences = {}
    for student in sorted(set(sequential) | set(parallel)):
        for cell in sorted(set(sequential.get(student, {})) | set(parallel.get(student, {}))):
            a, b = sequential.get(student, {}).get(cell), parallel.get(student, {}).get(cell)
            if a != b:
                differences[student, cell] = (a, b)
    return differences


def submission_of(student: str) -> str:
    """'s014-wrong-1' -> 'wrong-1': students with the same submission handed in the same notebook."""
    return student.split("-", 1)[1]


def sequential_trials(sequential: dict[str, Any],
                      extra: dict[tuple[str, str], list[Any]]) -> dict[tuple[str, str], list[Any]]:
    """(submission, cell) -> every result sequential grading gave it: one per student who
    handed it in, and the re-gradings in ``extra`` ((student, cell) -> results)."""
    trials: dict[tuple[str, str], list[Any]] = {}
    for student, cells in sorted(sequential.items()):
        for cell, result in cells.items():
            trials.setdefault((submission_of(student), cell), []).append(result)
    for (student, cell), results in extra.items():
        trials.setdefault((submission_of(student), cell), []).extend(results)
    return trials


def recheck(course: Path, assignment: str, sequential: dict[str, Any],
            differences: dict[tuple[str, str], tuple[Any, Any]], rechecks: int,
            log: Path) -> dict[tuple[str, str], list[Any]]:
    """Grade again, sequentially, the students whose differing cells no sequential grading
    of the same notebook explains, until one does or ``rechecks`` runs are done."""
    extra: dict[tuple[str, str], list[Any]] = {}

    def unexplained(student: str) -> list[tuple[str, str]]:
        trials = sequential_trials(sequential, extra)
        return [key for key in differences if key[0] == student
                and differences[key][1] not in trials[submission_of(student), key[1]]]

    for student in sorted({student for student, _ in differences}):
        for _ in range(rechecks):
            if not unexplained(student):
                break
            timed([sys.executable, "-m", "nbgrader", "autograde", assignment, f"--student={student}", "--force"],
                  course, log)
            again = grades_of(f"sqlite:///{course / 'gradebook.db'}", assignment)[student]
            for key in differences:
                if key[0] == student:
                    extra.setdefault(key, []).append(again.get(key[1]))
    return extra


def coordinator_ms(log: Path) -> float | None:
    """The coordinator's milliseconds per submission, from the run's summary line."""
    match = re.search(r"the coordinator took (\d+) ms a submission", log.read_text())
    return float(match.group(1)) if match else None


def verdict(name: str, sequential: dict[str, Any], other: dict[str, Any], course: Path, assignment: str,
            rechecks: int, log: Path, students: int) -> bool:
    """Print whether ``other`` (a gradebook's results) equals sequential grading's; True if
    every difference is one sequential grading also shows."""
    differences = compare(sequential, other)
    cells = sum(len(cells) for cells in sequential.values())
    if not differences:
        print(f"{name}: results identical: the same score, review flag and comment in all {cells} cells of "
              f"{students} students")
        return True
    extra = recheck(course, assignment, sequential, differences, rechecks, log)
    trials = sequential_trials(sequential, extra)
    explained = {key for key, (_, b) in differences.items() if b in trials[submission_of(key[0]), key[1]]}
    print(f"{name}: results: {cells - len(differences)} of {cells} cells identical; {len(differences)} differ:")
    for (student, cell), (a, b) in sorted(differences.items()):
        graded = ", ".join(_score(value) for value in trials[submission_of(student), cell])
        said = "varies between sequential gradings too" if (student, cell) in explained else "DIFFERS"
        print(f"  {student} {cell}: sequential {_score(a)}, {name} {_score(b)}; every sequential grading of "
              f"{submission_of(student)}: {graded} -> {said}")
    if len(explained) == len(differences):
        print(f"{name}: every difference is in an answer whose score varies from one sequential grading to the next")
        return True
    print(f"{name}: {len(differences) - len(explained)} cell(s) differ in a way no sequential grading reproduced")
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="01_processes", choices=support.assignments())
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=usable_cpu_count(),
                        help="worker processes, here and in the cluster (default: usable CPUs)")
    parser.add_argument("--rechecks", type=int, default=3,
                        help="sequential re-gradings of a student whose results differ (see above)")
    parser.add_argument("--quick", action="store_true",
                        help="2 students of 01_processes and 1 worker, to check that it runs")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.assignment, arguments.students, arguments.jobs = "01_processes", 2, 1
    assignment, jobs = arguments.assignment, arguments.jobs
    with tempfile.TemporaryDirectory(prefix="parallel-autograde-") as scratch:
        template = Path(scratch) / "template"
        course = support.Course.create(template, assignment)
        made = synthetic_class(assignment, arguments.students)
        for student, (_, notebook) in made.items():
            course.submit(assignment, student, notebook)
        counts: dict[str, int] = {}
        for kind, _ in made.values():
            counts[kind] = counts.get(kind, 0) + 1
        print(f"Python {sys.version.split()[0]}, {usable_cpu_count()} usable CPU(s); {assignment}, "
              f"{len(made)} students (" + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
              + f"); {jobs} worker process(es) in parallel and in the cluster", flush=True)
        copies = {kind: Path(scratch) / kind for kind in ("sequential", "parallel", "cluster")}
        for folder in copies.values():
            shutil.copytree(template, folder)
        logs = {kind: Path(scratch) / f"{kind}.log" for kind in copies}
        sequential = timed([sys.executable, "-m", "nbgrader", "autograde", assignment, "--force"],
                           copies["sequential"], logs["sequential"])
        print(f"sequential (nbgrader autograde):        {sequential:8.1f} s", flush=True)
        parallel = timed([sys.executable, "-m", "grader.autograde", assignment, "--force", "--jobs", str(jobs)],
                         copies["parallel"], logs["parallel"])
        print(f"parallel (run.py autograde --jobs {jobs}):   {parallel:8.1f} s", flush=True)
        with tools_on_path(), dask_cluster(Path(scratch) / "dask", workers=jobs, env=dict(os.environ)) as dask:
            on_cluster = timed([sys.executable, "-m", "grader.autograde", assignment, "--force", "--scheduler",
                                dask.address], copies["cluster"], logs["cluster"])
        print(f"cluster (--scheduler, {jobs} dask workers): {on_cluster:8.1f} s", flush=True)
        print(f"ratio (sequential / parallel):          {sequential / parallel:8.2f}x", flush=True)
        print(f"ratio (sequential / cluster):           {sequential / on_cluster:8.2f}x", flush=True)
        per_notebook = sequential / len(made)
        for kind in ("parallel", "cluster"):
            ms = coordinator_ms(logs[kind])
            if ms is not None:
                # The coordinator writes one submission at a time while the workers grade: it keeps
                # up with as many workers as there are coordinator turns in one notebook's time.
                print(f"coordinator, {kind}: {ms:.0f} ms a submission (receiving it, writing the gradebook and "
                      f"files); with {per_notebook:.1f} s a notebook, one coordinator keeps about "
                      f"{per_notebook * 1000 / max(ms, 1):.0f} workers busy", flush=True)
        results = {kind: grades_of(f"sqlite:///{copies[kind] / 'gradebook.db'}", assignment) for kind in copies}
        identical = [verdict(kind, results["sequential"], results[kind], copies["sequential"], assignment,
                             arguments.rechecks, Path(scratch) / "recheck.log", len(made))
                     for kind in ("parallel", "cluster")]
    return 0 if all(identical) else 1


def _score(result: Any) -> str:
    return "-" if result is None else f"{result.auto_score:g}"


if __name__ == "__main__":
    sys.exit(main())
