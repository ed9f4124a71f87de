"""The course's layout and notebooks, and the Pythons and start methods the tests cover."""

from __future__ import annotations

import multiprocessing
import os
import sys
from pathlib import Path

import nbformat
from nbformat import NotebookNode

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "source"
RELEASE = ROOT / "release"
ANSWERS = Path(__file__).resolve().parents[1] / "answers"
CACHE = ROOT / ".cache"

SUPPORTED_MINORS = ("3.11", "3.12", "3.13")
METHODS = tuple(m for m in ("fork", "spawn", "forkserver") if m in multiprocessing.get_all_start_methods())


def default_start_method() -> str:
    """The start method a kernel uses when nobody sets one: what plain `nbgrader autograde`
    grades with on this platform. (Asking multiprocessing would fix it for this process.)"""
    if sys.platform.startswith("linux"):
        return "fork" if sys.version_info < (3, 14) else "forkserver"
    return "spawn"


# The answer corpus runs on one Python under one start method, since the full matrix does
# not fit the time budget: this Python, and the start method graders get by default.
# COURSE_ANSWERS_PYTHONS=3.11,3.12,3.13 and COURSE_ANSWERS_METHODS=fork,spawn,forkserver widen it.
ANSWERS_PYTHONS = tuple(
    os.environ.get("COURSE_ANSWERS_PYTHONS", f"{sys.version_info[0]}.{sys.version_info[1]}").split(","))
ANSWERS_METHODS = tuple(os.environ.get("COURSE_ANSWERS_METHODS", default_start_method()).split(","))
# A source notebook must run top to bottom, while the suite runs four tests per CPU, in half
# of the 180 s the grader gives a whole notebook (HardenedExecute.total_seconds), so an honest
# notebook never nears that cut. Alone each takes 7-15 s on Python 3.11 (03 under spawn 15.1 s);
# under the suite's load 03 under spawn took 26.7 s, and 44.4 s on a busier CI machine (a budget
# of 40 s failed there). The load stretched 03 2.9-fold, so this still fails a notebook whose
# demos grow past about 30 s alone. The budget now counts the notebook's own time, less what
# a busy machine held it back (the grader's report's busy_seconds), so the load stretches less.
NOTEBOOK_SECONDS = 90.0


# The reference matrix (test_autograde.py): which start methods each notebook is graded under
# on each Python. Every pair would be 72 gradings of the reference and the blank, a third of
# the suite's CPU; this covering keeps what each pair could catch:
# - a notebook that starts processes runs on each Python under fork (3.12 and 3.13 warn about
#   fork in a process with threads, which costs a test cell its points) and under one of
#   spawn and forkserver, taking turns from Python to Python and starting from notebook to
#   notebook with the other: every notebook meets every start method, and each of the nine
#   pairs is met by half the notebooks or more;
# - a notebook that starts no process (PROCESS_FREE: the default start method cannot matter
#   to it, and test_notebooks.py checks that its cells name nothing that starts one) runs
#   once per Python, under a different start method each time.
# COURSE_FULL_MATRIX=1 grades every pair.
PROCESS_FREE = ("05_locks_and_queues", "06_thread_pools")
FULL_MATRIX = bool(os.environ.get("COURSE_FULL_MATRIX"))


def reference_runs(assignments_: list[str], pythons: list[str], methods: tuple[str, ...] = METHODS,
                   full: bool = FULL_MATRIX) -> list[tuple[str, str, str]]:
    """(assignment, Python, start method) for each grading of the reference matrix."""
    runs = []
    for index, assignment in enumerate(assignments_):
        for rank, python in enumerate(pythons):
            if full:
                chosen = list(methods)
            elif assignment in PROCESS_FREE:
                chosen = [methods[rank % len(methods)]]
            elif len(methods) < 3:
                chosen = list(methods)
            else:
                chosen = [methods[0], methods[1 + (index + rank) % (len(methods) - 1)]]
            runs += [(assignment, python, method) for method in chosen]
    return runs


def grades_blank(assignment: str, method: str, methods: tuple[str, ...] = METHODS) -> bool:
    """Whether a run of the reference matrix grades the untouched release too: once per Python,
    in its run under the first start method (a process-free notebook's only run). Its stubs
    raise before they could start anything, so its zero cannot depend on the start method."""
    return assignment in PROCESS_FREE or method == methods[0] or FULL_MATRIX


# --- the course's notebooks ---------------------------------------------------------------


def assignments() -> list[str]:
    """Assignment ids: the folders of source/ that hold <id>/<id>.ipynb."""
    return sorted(p.parent.name for p in SOURCE.glob("*/*.ipynb") if p.stem == p.parent.name)


def source_notebook(assignment: str) -> Path:
    return SOURCE / assignment / f"{assignment}.ipynb"


def release_notebook(assignment: str) -> Path:
    return RELEASE / assignment / f"{assignment}.ipynb"


def read(path: Path) -> NotebookNode:
    return nbformat.read(path, as_version=4)


def nbgrader_meta(cell: NotebookNode) -> dict:
    return cell.metadata.get("nbgrader", {})


def cell_of(nb: NotebookNode, grade_id: str) -> NotebookNode:
    """The cell whose nbgrader grade id is ``grade_id``."""
    return next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id)


def solution_ids(nb: NotebookNode) -> list[str]:
    return [nbgrader_meta(c)["grade_id"] for c in nb.cells if nbgrader_meta(c).get("solution")]


def test_cells(nb: NotebookNode) -> list[NotebookNode]:
    """The autograded test cells (graded code cells that are not answers)."""
    return [
        c for c in nb.cells
        if c.cell_type == "code" and nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")
    ]


def exercises(nb: NotebookNode) -> dict[str, list[str]]:
    """Each autograded exercise and its test cells' grade ids.

    An exercise is an answer cell with test cells named ``test_<exercise>`` or
    ``test_<exercise>_<aspect>``. (In a two-cell exercise, such as ``add_many`` with
    ``parallel_count``, only the function's cell has tests.)
    """
    tests = [nbgrader_meta(c)["grade_id"] for c in test_cells(nb)]
    found = {}
    for exercise in solution_ids(nb):
        mine = [t for t in tests if t == f"test_{exercise}" or t.startswith(f"test_{exercise}_")]
        if mine:
            found[exercise] = mine
    return found
