"""Autograding a class in parallel against one submission after another, in one run.

Run from the repository root, with the course's environment, on an otherwise idle machine:

    .venv/bin/python benchmarks/parallel_autograde.py            # 40 students of 02_communication: ~25 min on 2 CPUs
    .venv/bin/python benchmarks/parallel_autograde.py --students 80 --jobs 8
    .venv/bin/python benchmarks/parallel_autograde.py --quick    # 2 students of 01_processes, to check that it runs

It builds a course in a temporary folder and a synthetic class from the answer corpus
(tests/answers/<assignment>/): the reference answers, the blank release notebook, and the
corpus's submissions (support.submissions: right answers, wrong ones, and, for
02_communication, answers that deadlock and that the hidden tests' time bounds end), taken
in turn until the class is full. Two copies of that course are graded, in this order:

* sequentially, by plain ``nbgrader autograde <assignment> --force``;
* in parallel, by ``python -m grader.autograde <assignment> --force --jobs N``
  (``python3 run.py autograde``), with N worker processes (default: one per usable CPU).

Both use the course's nbgrader_config.py, so both grade with the hardened grader. It
checks that the two gradebooks hold the same results (each student's score, review flag
and comment for every cell) and prints both wall times and their ratio.

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="02_communication", choices=support.assignments())
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=usable_cpu_count(), help="worker processes (default: usable CPUs)")
    parser.add_argument("--rechecks", type=int, default=3,
                        help="sequential re-gradings of a student whose results differ (see above)")
    parser.add_argument("--quick", action="store_true",
                        help="2 students of 01_processes and 2 workers, to check that it runs")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.assignment, arguments.students, arguments.jobs = "01_processes", 2, 2
    assignment = arguments.assignment
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
              + f"); parallel with {arguments.jobs} worker(s)", flush=True)
        copies = {kind: Path(scratch) / kind for kind in ("sequential", "parallel")}
        for folder in copies.values():
            shutil.copytree(template, folder)
        sequential = timed([sys.executable, "-m", "nbgrader", "autograde", assignment, "--force"],
                           copies["sequential"], Path(scratch) / "sequential.log")
        print(f"sequential (nbgrader autograde):      {sequential:8.1f} s", flush=True)
        parallel = timed([sys.executable, "-m", "grader.autograde", assignment, "--force",
                          "--jobs", str(arguments.jobs)], copies["parallel"], Path(scratch) / "parallel.log")
        print(f"parallel (run.py autograde --jobs {arguments.jobs}): {parallel:8.1f} s", flush=True)
        summary = (Path(scratch) / "parallel.log").read_text().strip().splitlines()
        footer = next((line for line in reversed(summary) if line.startswith(f"{len(made)} students")), "")
        results = {kind: grades_of(f"sqlite:///{copies[kind] / 'gradebook.db'}", assignment)
                   for kind in ("sequential", "parallel")}
        differences = compare(results["sequential"], results["parallel"])
        print(f"ratio (sequential / parallel):        {sequential / parallel:8.2f}x", flush=True)
        if footer:
            print(f"the parallel run: {footer}", flush=True)
        extra = recheck(copies["sequential"], assignment, results["sequential"], differences, arguments.rechecks,
                        Path(scratch) / "recheck.log")
    cells = sum(len(cells) for cells in results["sequential"].values())
    if not differences:
        print(f"results identical: the same score, review flag and comment in all {cells} cells of "
              f"{len(made)} students")
        return 0
    trials = sequential_trials(results["sequential"], extra)
    explained = {key for key, (_, b) in differences.items() if b in trials[submission_of(key[0]), key[1]]}
    print(f"results: {cells - len(differences)} of {cells} cells identical; {len(differences)} differ:")
    for (student, cell), (a, b) in sorted(differences.items()):
        graded = ", ".join(_score(value) for value in trials[submission_of(student), cell])
        verdict = "varies between sequential gradings too" if (student, cell) in explained else "DIFFERS"
        print(f"  {student} {cell}: sequential {_score(a)}, parallel {_score(b)}; every sequential grading of "
              f"{submission_of(student)}: {graded} -> {verdict}")
    if len(explained) == len(differences):
        print("every difference is in an answer whose score varies from one sequential grading to the next: "
              "parallel grading gave results that sequential grading gives")
        return 0
    print(f"{len(differences) - len(explained)} cell(s) differ in a way no sequential grading reproduced")
    return 1


def _score(result: Any) -> str:
    return "-" if result is None else f"{result.auto_score:g}"


if __name__ == "__main__":
    sys.exit(main())
