"""What the tests share: the course's layout, the Pythons and start methods to test under,
temporary nbgrader course directories, and the corpus of student answers.

Every assignment found under ``source/`` is covered without new test code; the only
per-assignment input is its answer corpus in ``tests/answers/<id>/``.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import dataclasses
import datetime as dt
import hashlib
import io
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from unittest import mock

import nbformat
from filelock import FileLock
from nbformat import NotebookNode

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "source"
RELEASE = ROOT / "release"
ANSWERS = Path(__file__).resolve().parent / "answers"
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
# A source notebook must run top to bottom in 40 s on a 2-CPU machine while the suite runs
# four notebooks at once on those CPUs. Alone, each takes 8-15 s; beside three others that
# start processes too, 03 under spawn was seen at 26.7 s. 40 s still fails a demo that
# grows to a minute, without failing on a busy moment.
NOTEBOOK_SECONDS = 40.0


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


# --- Pythons and kernels ------------------------------------------------------------------


def minor_of(python: str) -> str | None:
    """'3.12' for a standard (GIL) CPython interpreter, None if it cannot be run or is free-threaded."""
    probe = ("import sys, sysconfig; "
             "print(f'{sys.version_info[0]}.{sys.version_info[1]}', sysconfig.get_config_var('Py_GIL_DISABLED') or 0)")
    try:
        out = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    minor, free_threaded = out.split()
    return None if free_threaded not in ("0", "None") else minor


def find_pythons() -> dict[str, str]:
    """The interpreters to test on: one per supported minor version present on this machine.

    Looks at this interpreter, ``python3.X`` on PATH and pyenv's versions. Set
    COURSE_TEST_PYTHONS=3.11,3.12 to test fewer.
    """
    current = f"{sys.version_info[0]}.{sys.version_info[1]}"
    found = {current: sys.executable} if current in SUPPORTED_MINORS else {}
    candidates = [shutil.which(f"python{minor}") for minor in SUPPORTED_MINORS]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(map(str, pyenv_root.glob("versions/3.*/bin/python3")), reverse=True)
    for candidate in filter(None, candidates):
        minor = minor_of(candidate)
        if minor in SUPPORTED_MINORS and minor not in found:
            found[minor] = candidate
    wanted = os.environ.get("COURSE_TEST_PYTHONS")
    if wanted:
        missing = set(wanted.split(",")) - set(found)
        if missing:
            raise RuntimeError(f"COURSE_TEST_PYTHONS asks for {sorted(missing)}, which this machine does not have")
        found = {minor: found[minor] for minor in wanted.split(",")}
    return dict(sorted(found.items()))


def kernel_python(minor: str, interpreter: str) -> str:
    """A Python of this minor version with requirements.txt installed, for running kernels.

    This interpreter already has them. Other versions get a virtual environment under
    .cache/, rebuilt whenever requirements.txt changes (the course package is installed
    editable, so changes to course/ need no rebuild); a file lock lets parallel test
    workers share it.
    """
    if interpreter == sys.executable:
        return sys.executable
    digest = hashlib.sha256((ROOT / "requirements.txt").read_bytes())
    env = CACHE / "kernels" / f"py{minor}-{digest.hexdigest()[:12]}"
    python = env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    done = env / "installed"
    CACHE.mkdir(exist_ok=True)
    with FileLock(str(CACHE / f"kernel-py{minor}.lock")):
        if not done.exists():
            for stale in env.parent.glob(f"py{minor}-*"):  # built from an older requirements.txt
                shutil.rmtree(stale, ignore_errors=True)
            subprocess.run([interpreter, "-m", "venv", str(env)], check=True)
            pip = [str(python), "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
            subprocess.run([*pip, "--upgrade", "pip"], check=True, cwd=ROOT)
            subprocess.run([*pip, "-r", "requirements.txt"], check=True, cwd=ROOT)
            done.write_text(interpreter + "\n")
    return str(python)


def write_kernelspec(folder: Path, python: str) -> Path:
    """A JUPYTER_PATH folder whose `python3` kernel runs on ``python``."""
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }))
    return folder


def write_start_method_profile(folder: Path, method: str) -> Path:
    """An IPYTHONDIR whose startup file makes ``method`` the kernel's default start method."""
    startup = folder / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-start-method.py").write_text(
        "import multiprocessing\n"
        f"multiprocessing.set_start_method({method!r}, force=True)\n"
    )
    return folder


@dataclasses.dataclass(frozen=True)
class KernelSetup:
    """How kernels start: which Python, which default start method."""

    minor: str
    python: str
    method: str
    jupyter_path: Path
    ipython_dir: Path

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(JUPYTER_PATH=str(self.jupyter_path), IPYTHONDIR=str(self.ipython_dir), JUPYTER_PLATFORM_DIRS="1")
        return env


# --- a temporary nbgrader course ---------------------------------------------------------


@dataclasses.dataclass
class Course:
    """An nbgrader course directory in a temporary folder, made from this repository's."""

    path: Path

    @classmethod
    def create(cls, path: Path, assignment: str, template: Path | None = None) -> Course:
        """Copy the config and the assignment's source, then generate it (which fills the
        gradebook). With ``template``, copy an already generated course instead."""
        if template is not None:
            shutil.copytree(template, path)
            return cls(path)
        path.mkdir(parents=True)
        shutil.copy(ROOT / "nbgrader_config.py", path)
        (path / "source" / assignment).mkdir(parents=True)
        shutil.copy(source_notebook(assignment), path / "source" / assignment)
        course = cls(path)
        course.nbgrader("generate_assignment", assignment, "--force")
        return course

    def nbgrader(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run an nbgrader command in this course, in this process; return its log, or fail
        with the log when it does not succeed.

        In-process, like nbgrader's own app tests (nbgrader.tests.run_nbgrader, which this
        follows but which drops the log on failure): importing nbgrader's apps costs 2.6 s
        of CPU, paid once per test worker instead of once per command. ``env`` replaces the
        environment for the command, and so for the kernels it starts.
        """
        from grader.nbgrader_run import run_nbgrader, tools_on_path

        buffer = io.StringIO()
        with contextlib.chdir(self.path), mock.patch.dict(os.environ, os.environ if env is None else env, clear=True), \
                tools_on_path():
            status = run_nbgrader(args, log=buffer)
        text = buffer.getvalue()
        with open(self.path / "nbgrader.log", "a") as log:
            log.write(f"\n$ nbgrader {' '.join(args)}\n{text}")
        if status != 0:
            raise AssertionError(f"nbgrader {' '.join(args)} exited {status}; log:\n{text[-4000:]}")
        return text

    def submit(self, assignment: str, student: str, nb: NotebookNode) -> None:
        folder = self.path / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{assignment}.ipynb")

    def autograde(self, assignment: str, kernel: KernelSetup) -> str:
        return self.nbgrader("autograde", assignment, "--force", env=kernel.env())

    def scores(self, assignment: str, student: str) -> dict[str, tuple[float, float]]:
        """grade_id -> (score, max score) for each graded cell of the student's notebook."""
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(f"sqlite:///{self.path / 'gradebook.db'}") as gradebook:
            try:
                notebook = gradebook.find_submission_notebook(assignment, assignment, student)
            except MissingEntry:
                log = (self.path / "nbgrader.log").read_text()
                raise AssertionError(
                    f"the gradebook has no grades for {student!r}; nbgrader's log:\n{log[-4000:]}") from None
            return {grade.name: (grade.score, grade.max_score) for grade in notebook.grades}

    def autograded(self, assignment: str, student: str) -> NotebookNode:
        return read(self.path / "autograded" / student / assignment / f"{assignment}.ipynb")


# --- what a graded notebook shows ------------------------------------------------------------


def error_outputs(cells: Iterable[NotebookNode]) -> list[tuple[str, str]]:
    """(cell id, 'Name: value') for every error output in these cells."""
    return [
        (cell.get("id", "?"), f"{out.ename}: {out.evalue}")
        for cell in cells if cell.cell_type == "code"
        for out in cell.outputs if out.output_type == "error"
    ]


def stderr_of(cell: NotebookNode) -> str:
    return "".join(out.text for out in cell.get("outputs", []) if out.output_type == "stream" and out.name == "stderr")


def execution_seconds(nb: NotebookNode) -> float:
    """Wall time from the first cell's start to the last cell's reply, from nbclient's timing."""
    times = [
        (cell.metadata["execution"]["iopub.execute_input"], cell.metadata["execution"]["shell.execute_reply"])
        for cell in nb.cells if cell.cell_type == "code" and "execution" in cell.metadata
    ]
    if not times:
        raise AssertionError("the executed notebook has no timing metadata")
    parse = lambda stamp: dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return (max(parse(end) for _, end in times) - min(parse(start) for start, _ in times)).total_seconds()


# --- the answer corpus ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Answer:
    """A student's answer to one exercise: the cells it fills in, and whether it is right.

    Stored as ``tests/answers/<assignment>/<exercise>/{right,wrong}_<name>.py``: the file
    is the answer cell exactly as a student would leave it. Its first comment says what
    the answer does. An answer that fills two cells marks each with ``# %% cell: <grade_id>``.
    """

    assignment: str
    exercise: str
    name: str
    right: bool
    description: str
    cells: dict[str, str]

    @property
    def label(self) -> str:
        return f"{self.exercise}/{self.name}"


CELL_MARKER = re.compile(r"^# %% cell: (\w+)\s*$", re.M)


def load_answer(path: Path) -> Answer:
    text = path.read_text()
    exercise, assignment = path.parent.name, path.parent.parent.name
    # The first comment says what the answer does (after a %%writefile line, which must come first).
    description = next((line.strip()[2:] for line in text.splitlines()
                        if line.strip().startswith("# ") and not CELL_MARKER.match(line)), "")
    parts = CELL_MARKER.split(text)
    if len(parts) == 1:
        cells = {exercise: text.strip("\n")}
    else:
        cells = {parts[i]: parts[i + 1].strip("\n") for i in range(1, len(parts), 2)}
    kind = path.stem.split("_", 1)[0]
    if kind not in ("right", "wrong"):
        raise ValueError(f"{path}: answer files are named right_<name>.py or wrong_<name>.py")
    return Answer(assignment, exercise, path.stem, kind == "right", description, cells)


def load_answers(assignment: str) -> dict[str, list[Answer]]:
    """exercise -> its answers, wrong and right."""
    found: dict[str, list[Answer]] = {}
    for path in sorted((ANSWERS / assignment).glob("*/*.py")):
        answer = load_answer(path)
        found.setdefault(answer.exercise, []).append(answer)
    return found


def with_answers(nb: NotebookNode, answers: Iterable[Answer]) -> NotebookNode:
    """A copy of ``nb`` with each answer's cells in place of the ones it names."""
    result = copy.deepcopy(nb)
    by_id = {nbgrader_meta(c).get("grade_id"): c for c in result.cells}
    for answer in answers:
        for grade_id, text in answer.cells.items():
            cell = by_id.get(grade_id)
            if cell is None or not nbgrader_meta(cell).get("solution"):
                raise ValueError(f"{answer.label}: the notebook has no answer cell {grade_id!r}")
            cell.source = text
    return result


def submissions(assignment: str) -> dict[str, list[Answer]]:
    """Group the corpus into submissions: the k-th wrong (or right) answer of every exercise
    in one notebook, so that one grading run checks one answer per exercise."""
    result: dict[str, list[Answer]] = {}
    for exercise_answers in load_answers(assignment).values():
        for right in (False, True):
            chosen = [a for a in exercise_answers if a.right is right]
            for k, answer in enumerate(chosen):
                result.setdefault(f"{'right' if right else 'wrong'}-{k + 1}", []).append(answer)
    return result


def assert_messages(source: str) -> list[str]:
    """Problems with a test cell's failure messages: every assert needs one that says what
    was expected (the word 'expected'), so that feedback explains itself."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        message = None
        if isinstance(node, ast.Assert):
            if node.msg is None:
                problems.append(f"line {node.lineno}: assert without a message")
                continue
            message = node.msg
        elif (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
              and getattr(node.exc.func, "id", "") == "AssertionError"):
            message = node.exc.args[0] if node.exc.args else None
            if message is None:
                problems.append(f"line {node.lineno}: AssertionError without a message")
                continue
        if message is not None and "expected" not in ast.unparse(message):
            problems.append(f"line {node.lineno}: the message does not say what was expected")
    return problems


# --- the synthetic "target" assignment (the hardening and class-grading tests) ---------------

TARGET = "target"


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
             'assert call_with_timeout(square, 3) == 9, "square(3) was not 9; expected 9"\n### BEGIN HIDDEN TESTS\n'
             "for x in (0, -4, 12):\n    got = call_with_timeout(square, x)\n"
             '    assert type(got) is int and got == x * x, f"square({x}) returned {got!r}; expected {x * x}"\n'
             'assert not stop_children(), "expected no process left running"\n### END HIDDEN TESTS',
             "test_square", grade=True, locked=True, points=1),
        v4.new_markdown_cell("## Key points\n\nNone: this notebook only exists to be attacked."),
    ]
    return nb


def make_course(path: Path, assignment: str) -> Course:
    """A generated course of ``assignment``: the synthetic target, or one of the course's."""
    if assignment != TARGET:
        return Course.create(path, assignment)
    path.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", path)
    (path / "source" / TARGET).mkdir(parents=True)
    nbformat.write(target_notebook(), path / "source" / TARGET / f"{TARGET}.ipynb")
    course = Course(path)
    course.nbgrader("generate_assignment", TARGET, "--force")
    return course


def key_answers(course: Course, assignment: str) -> dict[str, str]:
    """grade_id -> the source notebook's answer, for each answer cell."""
    source = read(course.path / "source" / assignment / f"{assignment}.ipynb")
    return {nbgrader_meta(c)["grade_id"]: c.source for c in source.cells if nbgrader_meta(c).get("solution")}


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
