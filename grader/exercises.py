"""Points per exercise from a graded notebook: what the self-check reports."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["ExerciseResult", "SelfCheckReport", "TestResult", "exercises", "meta", "read_report"]


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


def meta(cell: Any) -> dict[str, Any]:
    """A cell's nbgrader metadata (empty for a cell nbgrader does not know)."""
    return dict(cell.get("metadata", {}).get("nbgrader", {}))


def exercises(cells: Sequence[Any]) -> dict[str, list[str]]:
    """Each exercise and the grade ids of its graded cells, in the notebook's order.

    The course's naming rule (tests/support/layout.py, exercises): an exercise is an answer cell, its
    tests are named ``test_<exercise>`` or ``test_<exercise>_<aspect>``. An answer graded by
    hand is its own graded cell; a test that matches no answer is an exercise of its own.
    """
    answers = [meta(c)["grade_id"] for c in cells if meta(c).get("solution")]
    graded = [meta(c)["grade_id"] for c in cells if meta(c).get("grade")]
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


def read_report(db_url: str, assignment: str, student: str, learner: Path, graded: Path) -> SelfCheckReport:
    """The report on ``student``'s graded notebook ``graded`` (a copy of ``learner``), with the gradebook's scores."""
    from nbgrader.api import Gradebook  # type: ignore[import-untyped]

    nb = json.loads(graded.read_text(encoding="utf-8"))
    cells = nb["cells"]
    by_id = {meta(c).get("grade_id"): c for c in cells if meta(c).get("grade_id")}
    with Gradebook(db_url) as gradebook:
        submitted = gradebook.find_submission_notebook(assignment, assignment, student)
        scores = {grade.name: (grade.score, float(grade.max_score)) for grade in submitted.grades}
    found = []
    for name, grade_ids in exercises(cells).items():
        tests = []
        for grade_id in grade_ids:
            score, max_score = scores.get(grade_id, (None, 0.0))
            # An answer cell that is itself graded is graded by hand (nbgrader: "manually
            # graded answer"); it scores 0 until an instructor grades it.
            manual = bool(meta(by_id.get(grade_id, {})).get("solution"))
            failure = "" if manual or (score is not None and score >= max_score) else _failure(by_id.get(grade_id, {}))
            tests.append(TestResult(grade_id, None if manual else float(score or 0.0), max_score, failure))
        found.append(ExerciseResult(name, tuple(tests)))
    notes = tuple(nb.get("metadata", {}).get("course_grading", {}).get("notes", []))
    return SelfCheckReport(assignment, learner, tuple(found), graded, notes)
