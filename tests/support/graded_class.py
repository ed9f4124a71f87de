"""A graded class made without a kernel: a course folder, a gradebook written through nbgrader's
API, and graded notebooks as the course's grader leaves them (test outputs, Grading notes,
``metadata.course_grading``). What the class report's tests and benchmark read."""

from __future__ import annotations

import atexit
import dataclasses
import functools
import runpy
import shutil
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from support.layout import ROOT

ASSIGNMENT = "lesson"

# The assignment's cells in order: (grade id, kind, points). Tests are named for the answer
# they check (grader.exercises' rule); "explain" is an answer graded by hand.
CELLS: tuple[tuple[str, str, float], ...] = (
    ("usable_cpus", "answer", 0), ("test_usable_cpus", "test", 2),
    ("fork_exit_status", "answer", 0), ("test_fork_exit_status", "test", 1),
    ("test_fork_exit_status_checks", "test", 1),
    ("run_all", "answer", 0), ("test_run_all", "test", 2), ("test_run_all_concurrency", "test", 1),
    ("explain", "manual", 2),
)
TESTS = {name: points for name, kind, points in CELLS if kind == "test"}


@dataclasses.dataclass(frozen=True)
class Graded:
    """One student's graded submission. Tests not in ``failures`` or ``stderr`` pass."""

    name: str
    failures: Mapping[str, tuple[str, str]] = dataclasses.field(default_factory=dict)  # test -> (ename, evalue)
    stderr: Mapping[str, str] = dataclasses.field(default_factory=dict)  # test -> what it wrote to stderr
    demo_errors: Sequence[tuple[str, str]] = ()  # the grader's error outputs in a demonstration cell
    flags: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    notes: Sequence[str] = ()
    restarts: int = 0
    seconds: float = 12.0
    peak_tasks: int = 9
    peak_mb: int = 140
    manual_score: float | None = None  # the instructor's grade of "explain" (None: not graded yet)
    graded_notebook: bool = True  # False: the gradebook has grades, autograded/ lacks the notebook

    def passes(self, test: str) -> bool:
        return test not in self.failures and test not in self.stderr


@functools.cache
def course_id() -> str:
    """The course id the course's nbgrader_config.py sets (the config is run as nbgrader runs it)."""
    from traitlets.config import Config

    config = runpy.run_path(str(ROOT / "nbgrader_config.py"), init_globals={"get_config": Config})["c"]
    return str(config.CourseDirectory.course_id)


def _cell(name: str, kind: str, points: float) -> NotebookNode:
    meta = {"grade_id": name, "grade": kind in ("test", "manual"), "solution": kind in ("answer", "manual"),
            "locked": kind == "test", "schema_version": 3}
    if meta["grade"]:
        meta["points"] = points
    source = (f"# check {name}\nassert True" if kind == "test" else
              f"def {name}():\n    raise NotImplementedError()")
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": meta})


def source_notebook() -> NotebookNode:
    """The assignment's source notebook: a demonstration, then each answer and its tests."""
    cells = [nbformat.v4.new_markdown_cell("# A lesson"), nbformat.v4.new_code_cell("print('a demonstration')")]
    cells += [_cell(name, kind, points) for name, kind, points in CELLS]
    return nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3",
                                                                          "display_name": "Python 3",
                                                                          "language": "python"}})


def _error(ename: str, evalue: str) -> NotebookNode:
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue,
                                  traceback=["Traceback (most recent call last):", f"{ename}: {evalue}"])


def graded_notebook(student: Graded) -> NotebookNode:
    """The notebook the course's grader leaves in autograded/ for ``student``."""
    from grader.notes import notes_cell

    nb = source_notebook()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        name = cell.metadata.get("nbgrader", {}).get("grade_id")
        if name is None:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="a demonstration\n")]
            cell.outputs += [_error(*error) for error in student.demo_errors]
        elif name in student.failures:
            cell.outputs = [_error(*student.failures[name])]
        elif name in student.stderr:
            cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=student.stderr[name])]
    report = {"flags": {where: sorted(set(m)) for where, m in student.flags.items()}, "notes": list(student.notes),
              "seconds": student.seconds, "restarts": student.restarts, "peak_tasks": student.peak_tasks,
              "peak_mb": student.peak_mb, "kernel_uid": None}
    nb.metadata["course_grading"] = report
    if student.notes:
        nb.cells.insert(0, notes_cell(nb, list(student.notes)))
    return nb


@functools.cache
def _empty_gradebook() -> Path:
    """An SQLite gradebook with no assignment, made once per process: nbgrader runs ``alembic``
    to make one, which takes seconds on a busy machine."""
    from nbgrader.api import Gradebook

    from grader.nbgrader_run import tools_on_path

    folder = Path(tempfile.mkdtemp(prefix="graded-class-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    with tools_on_path(), Gradebook(f"sqlite:///{folder / 'gradebook.db'}", course_id()):
        pass
    return folder / "gradebook.db"


def make_class(path: Path, students: Sequence[Graded], *, without_submission: Sequence[str] = (),
               db_url: str | None = None) -> Path:
    """A course folder at ``path`` with the assignment graded for ``students`` (and
    ``without_submission`` in the gradebook only); returns ``path``. The gradebook is the
    course's ``gradebook.db``, or the database at ``db_url``."""
    from nbgrader.api import Gradebook
    from sqlalchemy.engine import make_url

    from grader.nbgrader_run import tools_on_path

    (path / "source" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", path)
    nbformat.write(source_notebook(), path / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    db_url = db_url or f"sqlite:///{path / 'gradebook.db'}"
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        shutil.copyfile(_empty_gradebook(), url.database)
    with tools_on_path(), Gradebook(db_url, course_id()) as gradebook, warnings.catch_warnings():
        # nbgrader's add_submission triggers this SQLAlchemy warning (pyproject.toml says why it is harmless).
        warnings.filterwarnings("ignore", "Object of type <Submitted")
        gradebook.add_assignment(ASSIGNMENT)
        gradebook.add_notebook(ASSIGNMENT, ASSIGNMENT)
        for name, kind, points in CELLS:
            if kind in ("answer", "manual"):
                gradebook.add_solution_cell(name, ASSIGNMENT, ASSIGNMENT)
            if kind in ("test", "manual"):
                gradebook.add_grade_cell(name, ASSIGNMENT, ASSIGNMENT, max_score=points, cell_type="code")
        for name in without_submission:
            gradebook.add_student(name)
        for student in students:
            gradebook.add_student(student.name)
            gradebook.add_submission(ASSIGNMENT, student.name)
            flagged = bool(student.flags)
            for name, kind, points in CELLS:
                if kind == "answer":
                    continue
                grade = gradebook.find_grade(name, ASSIGNMENT, ASSIGNMENT, student.name)
                if kind == "test":
                    grade.auto_score = points if student.passes(name) else 0.0
                    grade.needs_manual_grade = flagged  # as grader.review.FlagForReview marks a flagged notebook
                else:
                    grade.auto_score = None
                    grade.manual_score = student.manual_score
                    grade.needs_manual_grade = student.manual_score is None
            gradebook.db.commit()
            if student.graded_notebook:
                folder = path / "autograded" / student.name / ASSIGNMENT
                folder.mkdir(parents=True)
                nbformat.write(graded_notebook(student), folder / f"{ASSIGNMENT}.ipynb")
    return path


# --- a typical class --------------------------------------------------------------------------------------------

FLAG_REASON = "uses get_ipython() (IPython's internals)"
HANG_NOTE = "In cell 2: this cell ran for more than 20 s and did not stop when interrupted; the kernel was restarted."
CAP_VALUE = ("the notebook ran 140 processes and threads at once; the limit is 128; they were all ended, and the "
             "kernel restarted")


def _blank() -> dict[str, tuple[str, str]]:
    """A release notebook handed in as it was: every answer raises NotImplementedError()."""
    return dict.fromkeys(TESTS, ("NotImplementedError", ""))


def typical(kind: str, name: str, k: int = 1) -> Graded:
    """A student of a kind: honest, wrong_order, wrong_status, blank, flagged, hang, cap, stderr, no_notebook.
    ``k`` varies the numbers in a wrong answer's messages (they group together all the same)."""
    code = 2 + k % 7
    if kind == "honest":
        return Graded(name, seconds=10.0 + k % 5, manual_score=2.0)
    if kind == "wrong_order":
        return Graded(name, {"test_run_all": ("AssertionError", f"run_all(exit_with, [(0,), ({code},)]) returned "
                                                                f"[{code}, 0]; expected [0, {code}]")},
                      seconds=11.5, manual_score=1.0)
    if kind == "wrong_status":
        return Graded(name, {
            "test_fork_exit_status": ("AssertionError", f"fork_exit_status({code}) returned {code * 256}; expected "
                                                        f"{code} (that is the raw wait status)"),
            "test_usable_cpus": ("AssertionError", f"usable_cpus() returned {k + 8}; expected 2, the size of "
                                                   "os.sched_getaffinity(0)")}, seconds=12.25)
    if kind == "blank":
        return Graded(name, _blank(), seconds=6.0)
    if kind == "flagged":
        return Graded(name, flags={"": [FLAG_REASON]},
                      notes=[f"This submission is flagged for an instructor's review: {FLAG_REASON}"], seconds=13.0)
    if kind == "hang":
        return Graded(name, {"test_run_all_concurrency": (
            "AssertionError", "run_all(meet_at_barrier, [(barrier,), (barrier,)]) did not return within 10 s; "
                              "expected it to finish promptly")},
            demo_errors=[("CellTimeoutError", "this cell ran for more than 20 s and did not stop when interrupted; "
                                              "the kernel was restarted")],
            notes=[HANG_NOTE, "The kernel was restarted 1 time(s); after each restart the cells before the one that "
                              "stopped it were run again (tests excepted), and grading went on."],
            restarts=1, seconds=41.0)
    if kind == "cap":
        return Graded(name, {"test_run_all": ("GradingLimitExceeded", CAP_VALUE)},
                      notes=[f"In test_run_all: {CAP_VALUE}."], restarts=1, seconds=25.0, peak_tasks=140)
    if kind == "stderr":
        return Graded(name, stderr={"test_run_all_concurrency": "Traceback (most recent call last):\n"
                                                                "ValueError: child failed\n"}, seconds=14.0)
    if kind == "no_notebook":
        return Graded(name, {"test_usable_cpus": ("AssertionError", "x")}, graded_notebook=False)
    raise ValueError(f"no kind of student {kind!r}")


CLASS_KINDS = ("honest", "wrong_order", "honest", "wrong_status", "blank", "honest", "flagged", "wrong_order",
               "hang", "honest", "cap", "stderr")


def typical_class(size: int) -> list[Graded]:
    """``size`` students of every kind but no_notebook, in turn: student01, student02, ..."""
    return [typical(CLASS_KINDS[i % len(CLASS_KINDS)], f"student{i + 1:02d}", i) for i in range(size)]
