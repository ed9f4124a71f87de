"""The synthetic "target" assignment the hardening and class-grading tests grade, and what they check after."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from support.courses import Course
from support.layout import cell_of, nbgrader_meta, read

TARGET = "target"

# A class handing in the target: each student's answers in place of the key's (None: the
# untouched release notebook), and what each earns, test by test, with any grader.
TARGET_CLASS: dict[str, dict[str, str] | None] = {
    "blank": None,
    "crash": {"add": "def add(a, b):\n    import os\n    os._exit(3)  # kills the kernel"},
    "hang": {"square": "def square(x):\n    import time\n    time.sleep(3600)"},
    "honest": {},
    "wrong": {"double": "def double(x):\n    return x + 2"},
}
TARGET_CLASS_SCORES = {
    "blank": {"test_double": 0.0, "test_add": 0.0, "test_square": 0.0},
    "crash": {"test_double": 2.0, "test_add": 0.0, "test_square": 1.0},
    "hang": {"test_double": 2.0, "test_add": 2.0, "test_square": 0.0},
    "honest": {"test_double": 2.0, "test_add": 2.0, "test_square": 1.0},
    "wrong": {"test_double": 0.0, "test_add": 2.0, "test_square": 1.0},
}


def _target_cell(source: str, grade_id: str | None = None, *, solution: bool = False, grade: bool = False,
                 locked: bool = False, points: int = 0) -> NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    if grade_id:
        meta = {"grade_id": grade_id, "grade": grade, "solution": solution, "locked": locked, "schema_version": 3}
        if grade:
            meta["points"] = points
        cell.metadata["nbgrader"] = meta
    return cell


def target_notebook() -> NotebookNode:
    """A small assignment in the course's style: answers, a demonstration that calls one,
    a locked helper cell, and tests with hidden parts that use course.checks."""
    v4, cell = nbformat.v4, _target_cell
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.cells = [
        v4.new_markdown_cell("# Hardening target 靶子\n\n"
                             "A small assignment that the grader's adversarial tests attack."),
        cell('import os\n\nprint("the kernel runs as pid", os.getpid())'),
        cell('def double(x):\n    """Return twice x."""\n    ### BEGIN SOLUTION\n    return 2 * x\n'
             "    ### END SOLUTION", "double", solution=True),
        cell("double(21)"),
        cell('import multiprocessing\n\nfrom course import workers\n\n'
             'p = multiprocessing.Process(target=workers.exit_with, args=(3,))\np.start()\np.join(timeout=10)\n'
             'print("a child process ended with", p.exitcode)'),
        cell('"""Check that double(x) returns twice x."""\nfrom course.checks import call_with_timeout\n\n'
             'got = call_with_timeout(double, 2)\nassert got == 4, f"double(2) returned {got!r}; expected 4"\n'
             "### BEGIN HIDDEN TESTS\nfor x in (0, -3, 10):\n    got = call_with_timeout(double, x)\n"
             '    assert type(got) is int and got == 2 * x, f"double({x}) returned {got!r}; expected {2 * x}"\n'
             "### END HIDDEN TESTS", "test_double", grade=True, locked=True, points=2),
        cell('"""Tools the tests of exercise B use."""\n\n\ndef expect_equal(got, want, call):\n'
             '    """Fail unless got == want, saying what call returned."""\n'
             "    if not (type(got) is type(want) and got == want):\n"
             '        raise AssertionError(f"{call} returned {got!r}; expected {want!r}")',
             "helpers", locked=True),
        cell('def add(a, b):\n    """Return a + b."""\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION',
             "add", solution=True),
        cell('"""Check that add(a, b) returns their sum."""\nfrom course.checks import call_with_timeout\n\n'
             'expect_equal(call_with_timeout(add, 1, 2), 3, "add(1, 2)")\n### BEGIN HIDDEN TESTS\n'
             "for a, b in ((0, 0), (-5, 2), (10, 20)):\n"
             '    expect_equal(call_with_timeout(add, a, b), a + b, f"add({a}, {b})")\n### END HIDDEN TESTS',
             "test_add", grade=True, locked=True, points=2),
        cell('def square(x):\n    """Return x * x."""\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION',
             "square", solution=True),
        cell('"""Check that square(x) returns x * x."""\nfrom course.checks import call_with_timeout, stop_children\n\n'
             "stop_children()  # what earlier cells left running is not square's\n"
             'assert call_with_timeout(square, 3) == 9, "square(3) was not 9; expected 9"\n### BEGIN HIDDEN TESTS\n'
             "for x in (0, -4, 12):\n    got = call_with_timeout(square, x)\n"
             '    assert type(got) is int and got == x * x, f"square({x}) returned {got!r}; expected {x * x}"\n'
             'assert not stop_children(), "expected no process left running"\n### END HIDDEN TESTS',
             "test_square", grade=True, locked=True, points=1),
        v4.new_markdown_cell("## Key points\n\nNone: this notebook only exists to be attacked."),
    ]
    return nb


def make_course(path: Path, assignment: str, source: NotebookNode | None = None) -> Course:
    """A generated course of ``assignment``: the synthetic target (``source``, by default
    :func:`target_notebook`), or one of the course's."""
    if assignment == TARGET and source is None:
        source = target_notebook()
    return Course.create(path, assignment, source=source)


def key_answers(course: Course, assignment: str) -> dict[str, str]:
    """grade_id -> the source notebook's answer, for each answer cell."""
    source = read(course.path / "source" / assignment / f"{assignment}.ipynb")
    return {nbgrader_meta(c)["grade_id"]: c.source for c in source.cells if nbgrader_meta(c).get("solution")}


def submit_class(course: Course, assignment: str, students: dict[str, dict[str, str] | None]) -> None:
    """Hand in a notebook for each student: the release with the key's answers, except the
    answer cells each student's dict replaces (grade_id -> source); None hands in the blank release."""
    release = read(course.path / "release" / assignment / f"{assignment}.ipynb")
    key = key_answers(course, assignment)
    for student, answers in students.items():
        nb = copy.deepcopy(release)
        if answers is not None:
            for cell in nb.cells:
                grade_id = nbgrader_meta(cell).get("grade_id")
                if grade_id in key:
                    cell.source = answers.get(grade_id, key[grade_id])
        course.submit(assignment, student, nb)


def leftover_processes(course: Course, uids: set[int], before: set[int]) -> list[str]:
    """Processes a grading run left: of the users its kernels ran as, working in the course,
    or new descendants of this process."""
    import psutil

    found = []
    ours = {child.pid for child in psutil.Process().children(recursive=True)}
    for process in psutil.process_iter(["pid", "uids", "cwd", "status", "cmdline"]):
        info = process.info
        if info["status"] == psutil.STATUS_ZOMBIE or process.pid == os.getpid():
            continue
        uid = info["uids"].real if info["uids"] else -1
        cwd = info["cwd"] or ""
        if (uid in uids or cwd.startswith(str(course.path))
                or (process.pid in ours and process.pid not in before)):
            found.append(f"pid {process.pid} uid {uid} cwd {cwd} {' '.join(info['cmdline'] or [])[:80]}")
    return found


def assert_disk_cap_stopped(graded: NotebookNode, grade_id: str, shm_pattern: str) -> None:
    """The grader's notes say the disk cap stopped the notebook in the cell ``grade_id``, and
    no file of ``shm_pattern`` is left in /dev/shm; if the cap did not, say what that cell
    printed and how much room the machine had."""
    import glob
    import shutil
    import tempfile

    left = glob.glob(os.path.join("/dev/shm", shm_pattern))
    assert not left, f"shared memory files were left behind: {left[:3]}"
    notes = graded.metadata.get("course_grading", {}).get("notes", [])
    if any(note.startswith(f"In {grade_id}: the notebook wrote") and "MB of files" in note for note in notes):
        return
    room = {}
    for folder in (tempfile.gettempdir(), "/dev/shm"):
        if os.path.isdir(folder):
            room[folder] = f"{shutil.disk_usage(folder).free / 2**20:.0f} MB free now"
    outputs = [out.get("text") or f"{out.get('ename')}: {out.get('evalue')}"
               for out in cell_of(graded, grade_id).get("outputs", [])]
    raise AssertionError(f"the disk cap did not stop the notebook in {grade_id}: notes {notes}; "
                         f"{grade_id} printed {str(outputs)[:800]}; {room}")
