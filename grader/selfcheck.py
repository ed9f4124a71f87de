"""Self-check: grade your own notebook with the hidden tests, as an instructor would.

From the course folder::

    python3 run.py check 01_processes                       # release/01_processes/01_processes.ipynb
    python3 run.py check 01_processes ~/work/my_copy.ipynb  # another copy of it

(``.venv/bin/python -m grader.selfcheck 01_processes [notebook]`` does the same.)

It builds a scratch course in a temporary folder (the course's ``nbgrader_config.py`` and
``source/<assignment>/``), generates the assignment there, hands in a *copy* of the
notebook as a student "me" would, grades it with ``nbgrader autograde`` (the course's
hardened grader: sandboxed, bounded, with the hidden tests) and generates the feedback.
It then prints the points of every test, grouped by exercise, with the message of each
failed test, and writes the feedback page to ``feedback/self-check/<assignment>.html``
(not committed: ``/feedback/`` is git-ignored). The notebook is only read; the course's
gradebook and ``autograded/`` are not touched: everything is graded in the scratch course,
which is removed afterwards.

Exit status: 0 when the check ran (whatever the score), 1 when it could not grade the
notebook, 2 for bad input (nothing was done), 130 when stopped by Ctrl-C.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from grader.classgrade import UsageError, notebook_problem, run_nbgrader, tools_on_path

__all__ = ["ExerciseResult", "SelfCheckReport", "TestResult", "UsageError", "exercises", "main", "self_check"]

USAGE = """\
usage: python3 run.py check <assignment> [notebook]

Grade your notebook (default: release/<assignment>/<assignment>.ipynb) with the hidden
tests, in a scratch copy of the course; print the points of each exercise and what failed,
and write the feedback page to feedback/self-check/<assignment>.html.
"""

STUDENT = "me"  # the learner's name in the scratch course (and in the feedback page)


@dataclasses.dataclass(frozen=True)
class TestResult:
    """One graded test cell: its points, and why it failed (empty when it passed)."""

    grade_id: str
    score: float | None  # None: graded by an instructor, not by tests
    max_score: float
    failure: str = ""


@dataclasses.dataclass(frozen=True)
class ExerciseResult:
    """An exercise (an answer cell) and the tests that check it."""

    name: str
    tests: tuple[TestResult, ...]

    @property
    def score(self) -> float | None:
        scores = [t.score for t in self.tests]
        return None if any(s is None for s in scores) else sum(s for s in scores if s is not None)

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)


@dataclasses.dataclass(frozen=True)
class SelfCheckReport:
    """What the self-check found."""

    assignment: str
    notebook: Path
    exercises: tuple[ExerciseResult, ...]
    feedback: Path
    notes: tuple[str, ...] = ()

    @property
    def score(self) -> float:
        return sum(e.score or 0.0 for e in self.exercises)

    @property
    def max_score(self) -> float:
        """The points the tests can give (not those an instructor grades by hand)."""
        return sum(e.max_score for e in self.exercises if e.score is not None)

    def text(self, root: Path | None = None) -> str:
        """The report as printed: points per test, grouped by exercise, and what failed."""

        def shown(path: Path) -> str:
            if root is not None:
                with contextlib.suppress(ValueError):
                    return str(path.relative_to(root))
            return str(path)

        lines = [f"Self-check of {self.assignment}: {shown(self.notebook)}",
                 "(graded with the hidden tests in a scratch copy of the course: your notebook and the "
                 "course's gradebook are unchanged)", ""]
        def points(score: float | None, max_score: float) -> str:
            return f"{'-' if score is None else format(score, 'g')} / {max_score:g}"

        width = max([len(e.name) for e in self.exercises]
                    + [len(t.grade_id) + 2 for e in self.exercises for t in e.tests] + [5])
        room = max([len(points(t.score, t.max_score)) for e in self.exercises for t in e.tests]
                   + [len(points(e.score, e.max_score)) for e in self.exercises]
                   + [len(points(self.score, self.max_score))])
        for exercise in self.exercises:
            line = f"{exercise.name:<{width}}  {points(exercise.score, exercise.max_score):>{room}}"
            if exercise.score is None:
                lines.append(f"{line}  graded by an instructor, not by tests (the README's instructor guide "
                             "has the rubric)")
                continue
            lines.append(line)
            for test in exercise.tests:
                failure = f"  {test.failure}" if test.failure else ""
                lines.append(f"  {test.grade_id:<{width - 2}}  {points(test.score, test.max_score):>{room}}{failure}")
        lines.append("-" * (width + 2 + room))
        lines.append(f"{'total':<{width}}  {points(self.score, self.max_score):>{room}}")
        if self.notes:
            lines.append("")
            lines.append("The grader noted:")
            lines.extend(f"* {note}" for note in self.notes)
        lines.append("")
        lines.append(f"Feedback, with the output of every test: {shown(self.feedback)}")
        return "\n".join(lines)


def _meta(cell: Any) -> dict[str, Any]:
    return dict(cell.get("metadata", {}).get("nbgrader", {}))


def exercises(cells: Sequence[Any]) -> dict[str, list[str]]:
    """Each exercise and the grade ids of its graded cells, in the notebook's order.

    The course's naming rule (tests/support.exercises): an exercise is an answer cell, its
    tests are named ``test_<exercise>`` or ``test_<exercise>_<aspect>``. An answer graded by
    hand is its own graded cell; a test that matches no answer is an exercise of its own.
    """
    answers = [_meta(c)["grade_id"] for c in cells if _meta(c).get("solution")]
    graded = [_meta(c)["grade_id"] for c in cells if _meta(c).get("grade")]
    found: dict[str, list[str]] = {}
    claimed: set[str] = set()
    for answer in answers:
        mine = [g for g in graded if g == answer or g == f"test_{answer}" or g.startswith(f"test_{answer}_")]
        if mine:
            found[answer] = mine
            claimed.update(mine)
    for grade_id in graded:
        if grade_id not in claimed:
            found[grade_id] = [grade_id]
    return found


def _failure(cell: Any) -> str:
    """Why a graded code cell scored less than full marks, in one line or a few."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            value = str(output.get("evalue", "")).strip()
            name = output.get("ename", "Error")
            if name == "NotImplementedError" and not value:
                return "NotImplementedError: not answered yet"
            return f"{name}: {value}" if value else name
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            first = str(output.get("text", "")).strip().splitlines()[:1]
            return "it wrote to stderr, which scores 0: " + (first[0] if first else "")
    return ""


@contextlib.contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Send what this process and its children (the kernels) print to ``path``: the
    learner sees the report, not nbgrader's log."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "a", encoding="utf-8") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for descriptor in saved:
                os.close(descriptor)


def _check_input(root: Path, assignment: str, notebook: Path | None) -> tuple[Path, Path]:
    """The assignment's source notebook and the learner's notebook, or a UsageError."""
    if not (root / "nbgrader_config.py").is_file():
        raise UsageError(f"{root} has no nbgrader_config.py: run this from the course folder")
    source = root / "source" / assignment / f"{assignment}.ipynb"
    if not source.is_file():
        known = sorted(p.parent.name for p in (root / "source").glob("*/*.ipynb") if p.stem == p.parent.name)
        raise UsageError(f"unknown assignment {assignment!r}: the assignments are {', '.join(known) or 'none'}")
    learner = (root / "release" / assignment / f"{assignment}.ipynb") if notebook is None else notebook
    learner = learner.expanduser().resolve()
    if not learner.exists():
        raise UsageError(f"there is no notebook at {learner}: give the path of the notebook you worked in")
    if not learner.is_file():
        raise UsageError(f"{learner} is a folder: give the path of the notebook (.ipynb) you worked in")
    problem = notebook_problem(learner)
    if problem:
        raise UsageError(f"{learner} {problem}")
    # A notebook of another assignment would be graded as all unanswered (or worse): say so
    # instead. Assignments may share an answer's name, so compare all their graded cells.
    mine = _grade_ids(learner)
    wanted = _grade_ids(source)
    if wanted and len(mine & wanted) <= len(mine - wanted):
        others = {path.parent.name: len(mine & _grade_ids(path)) for path in (root / "source").glob("*/*.ipynb")
                  if path.stem == path.parent.name and path != source}
        best = max(others, key=lambda name: others[name], default=None)
        looks = f"it looks like {best}'s notebook" if best and others[best] > len(mine & wanted) else \
            f"it has {len(mine & wanted)} of {assignment}'s {len(wanted)} graded cells"
        raise UsageError(f"{learner} is not a notebook of {assignment}: {looks}; give the notebook you worked in "
                         f"for {assignment}")
    return source, learner


def _grade_ids(path: Path) -> set[str]:
    """The ids of a notebook's nbgrader cells (answers, tests, locked cells)."""
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    return {str(_meta(c)["grade_id"]) for c in cells if isinstance(c, dict) and _meta(c).get("grade_id")}


def self_check(assignment: str, notebook: Path | None = None, *, course: Path | None = None,
               feedback_dir: Path | None = None) -> SelfCheckReport:
    """Grade ``notebook`` (default: ``release/<assignment>/<assignment>.ipynb``) against the
    hidden tests of ``assignment`` in a scratch copy of ``course`` (default: the current
    folder), and copy its feedback page into ``feedback_dir`` (default:
    ``<course>/feedback/self-check``).

    Raises :class:`UsageError`, having done nothing, for bad input, and ``RuntimeError``
    with nbgrader's log when grading fails.
    """
    root = (Path.cwd() if course is None else course).resolve()
    source, learner = _check_input(root, assignment, notebook)
    feedback_dir = root / "feedback" / "self-check" if feedback_dir is None else feedback_dir
    with tempfile.TemporaryDirectory(prefix="course-self-check-") as temporary:
        scratch = Path(temporary) / "course"
        (scratch / "source").mkdir(parents=True)
        shutil.copy2(root / "nbgrader_config.py", scratch)
        shutil.copytree(source.parent, scratch / "source" / assignment,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        handed_in = scratch / "submitted" / STUDENT / assignment / f"{assignment}.ipynb"
        handed_in.parent.mkdir(parents=True)
        shutil.copyfile(learner, handed_in)  # a copy: grading never sees the learner's file
        log = Path(temporary) / "nbgrader.log"
        steps = [["generate_assignment", assignment, "--force"],
                 ["autograde", assignment, "--force", f"--student={STUDENT}"],
                 ["generate_feedback", assignment, "--force", f"--student={STUDENT}"]]
        with contextlib.chdir(scratch), tools_on_path(), _output_to(log):
            for step in steps:
                if run_nbgrader(step) != 0:
                    break
        graded = scratch / "autograded" / STUDENT / assignment / f"{assignment}.ipynb"
        page = scratch / "feedback" / STUDENT / assignment / f"{assignment}.html"
        if not graded.is_file() or not page.is_file():
            text = log.read_text(encoding="utf-8", errors="replace")
            raise RuntimeError("nbgrader could not grade the notebook; the end of its log:\n"
                               + "\n".join(text.splitlines()[-40:]))
        report = _report(scratch, assignment, learner, graded)
        feedback_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page, feedback_dir / f"{assignment}.html")
    return dataclasses.replace(report, feedback=feedback_dir / f"{assignment}.html")


def _report(scratch: Path, assignment: str, learner: Path, graded: Path) -> SelfCheckReport:
    from nbgrader.api import Gradebook  # type: ignore[import-untyped]

    nb = json.loads(graded.read_text(encoding="utf-8"))
    cells = nb["cells"]
    by_id = {_meta(c).get("grade_id"): c for c in cells if _meta(c).get("grade_id")}
    with Gradebook(f"sqlite:///{scratch / 'gradebook.db'}") as gradebook:
        submitted = gradebook.find_submission_notebook(assignment, assignment, STUDENT)
        scores = {grade.name: (grade.score, float(grade.max_score)) for grade in submitted.grades}
    found = []
    for name, grade_ids in exercises(cells).items():
        tests = []
        for grade_id in grade_ids:
            score, max_score = scores.get(grade_id, (None, 0.0))
            # An answer cell that is itself graded is graded by hand (nbgrader: "manually
            # graded answer"); it scores 0 until an instructor grades it.
            manual = bool(_meta(by_id.get(grade_id, {})).get("solution"))
            failure = "" if manual or (score is not None and score >= max_score) else _failure(by_id.get(grade_id, {}))
            tests.append(TestResult(grade_id, None if manual else float(score or 0.0), max_score, failure))
        found.append(ExerciseResult(name, tuple(tests)))
    notes = tuple(nb.get("metadata", {}).get("course_grading", {}).get("notes", []))
    return SelfCheckReport(assignment, learner, tuple(found), graded, notes)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """The command: ``<assignment> [notebook]``."""
    out = sys.stdout if out is None else out
    args = list(sys.argv[1:] if argv is None else argv)
    if any(arg in ("-h", "--help") for arg in args):
        print(USAGE, file=out)
        return 0
    try:
        if not args or len(args) > 2 or any(arg.startswith("-") for arg in args):
            raise UsageError("give an assignment and, if it is not in release/, your notebook: "
                             "python3 run.py check 01_processes [path/to/notebook.ipynb]")
        root = Path.cwd()
        notebook = Path(args[1]) if len(args) == 2 else None
        _check_input(root, args[0], notebook)  # bad input is reported before anything is said or done
        print(f"Checking {args[0]} with the hidden tests (a minute or less)...", file=out, flush=True)
        report = self_check(args[0], notebook, course=root)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopped: nothing was changed.", file=sys.stderr)
        return 130
    print(report.text(root), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
