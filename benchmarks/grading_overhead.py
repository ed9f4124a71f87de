"""What hardened grading costs an honest notebook: nbgrader's plain Execute against the
course's HardenedExecute, side by side in one run.

Run from the repository root, with the course's environment:

    .venv/bin/python benchmarks/grading_overhead.py                  # 01_processes, 3 rounds: ~2 minutes
    .venv/bin/python benchmarks/grading_overhead.py --assignment 04_threads --rounds 5
    .venv/bin/python benchmarks/grading_overhead.py --start-method spawn
    .venv/bin/python benchmarks/grading_overhead.py --quick          # one round, to check that it runs

It makes two temporary course folders from this one: one with the course's
``nbgrader_config.py`` (hardened), one with the same file whose preprocessor lists are put
back to nbgrader's defaults (plain). Each round grades the reference notebook, as a
student's submission, once in each, alternating which goes first, with a real
``nbgrader autograde`` command. It prints, per round and as medians with their ratio:

* the command's wall time (kernel start, sandbox, sealed tests, clean-up: all of it);
* the notebook's execution time (first cell to last reply, from nbclient's timing).

Run it on an otherwise idle machine: other load inflates both, but not equally.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLAIN = """
# nbgrader's own preprocessors, for comparison (benchmarks/grading_overhead.py)
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput", "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec", "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata"]
c.Autograde.autograde_preprocessors = [
    "nbgrader.preprocessors.Execute", "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades", "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata"]
"""


EXTRA_ENV: dict[str, str] = {}


def nbgrader(course: Path, *args: str) -> float:
    """Run an nbgrader command in ``course``; return its wall time."""
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    env.update(EXTRA_ENV)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                            capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"nbgrader {' '.join(args)} failed in {course}:\n{result.stderr[-3000:]}")
    return seconds


def make_course(folder: Path, assignment: str, plain: bool) -> Path:
    folder.mkdir(parents=True)
    config = (ROOT / "nbgrader_config.py").read_text()
    (folder / "nbgrader_config.py").write_text(config + (PLAIN if plain else ""))
    (folder / "source" / assignment).mkdir(parents=True)
    shutil.copy(ROOT / "source" / assignment / f"{assignment}.ipynb", folder / "source" / assignment)
    nbgrader(folder, "generate_assignment", assignment, "--force")
    submitted = folder / "submitted" / "student" / assignment
    submitted.mkdir(parents=True)
    shutil.copy(ROOT / "source" / assignment / f"{assignment}.ipynb", submitted)
    return folder


def execution_seconds(notebook: Path) -> float:
    cells = json.loads(notebook.read_text())["cells"]
    stamps = [(c["metadata"]["execution"]["iopub.execute_input"], c["metadata"]["execution"]["shell.execute_reply"])
              for c in cells if c["cell_type"] == "code" and "execution" in c.get("metadata", {})]
    parse = lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return (max(parse(end) for _, end in stamps) - min(parse(start) for start, _ in stamps)).total_seconds()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="01_processes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--start-method", choices=("fork", "spawn", "forkserver"),
                        help="the kernels' default start method (an IPython start-up file sets it)")
    parser.add_argument("--quick", action="store_true", help="one round, to check that it runs")
    arguments = parser.parse_args()
    rounds = 1 if arguments.quick else arguments.rounds
    assignment = arguments.assignment
    results: dict[str, list[tuple[float, float]]] = {"plain": [], "hardened": []}
    with tempfile.TemporaryDirectory() as scratch:
        if arguments.start_method:
            startup = Path(scratch) / "ipython" / "profile_default" / "startup"
            startup.mkdir(parents=True)
            (startup / "00-start-method.py").write_text(
                f"import multiprocessing\nmultiprocessing.set_start_method({arguments.start_method!r}, force=True)\n")
            EXTRA_ENV["IPYTHONDIR"] = str(startup.parent.parent)
        courses = {kind: make_course(Path(scratch) / kind, assignment, kind == "plain") for kind in results}
        method = arguments.start_method or "the default start method"
        print(f"Python {sys.version.split()[0]}; {assignment} under {method}, reference answers, {rounds} round(s)")
        print(f"{'round':>5} {'kind':>9} {'command s':>10} {'notebook s':>11}")
        for index in range(rounds):
            order = ["plain", "hardened"] if index % 2 == 0 else ["hardened", "plain"]
            for kind in order:
                wall = nbgrader(courses[kind], "autograde", assignment, "--force")
                graded = courses[kind] / "autograded" / "student" / assignment / f"{assignment}.ipynb"
                results[kind].append((wall, execution_seconds(graded)))
                print(f"{index + 1:>5} {kind:>9} {wall:>10.2f} {results[kind][-1][1]:>11.2f}", flush=True)
    medians = {kind: (statistics.median(w for w, _ in runs), statistics.median(n for _, n in runs))
               for kind, runs in results.items()}
    for kind, (wall, run) in medians.items():
        print(f"median {kind:>9}: command {wall:.2f} s, notebook {run:.2f} s")
    print(f"overhead of hardening (hardened / plain): command {medians['hardened'][0] / medians['plain'][0]:.2f}x, "
          f"notebook {medians['hardened'][1] / medians['plain'][1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
