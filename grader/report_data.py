"""What the class report shows, read from the gradebook and the graded notebooks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from grader.exercises import exercises, meta
from grader.plan import Settings, UsageError, gradebook_file, relative

__all__ = ["ClassData", "Exercise", "FailureGroup", "SubmissionStats", "TestStats", "cell_events", "failure_message",
           "gather", "group_failures", "pattern_of", "shown_url"]

# How much of a failure message is kept (a test that prints a whole list can be long).
MESSAGE_CHARS = 300
FLAGGED_NOTE = "This submission is flagged for an instructor's review: "
_NUMBER = re.compile(r"\b0x[0-9a-fA-F]+\b|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_SPACE = re.compile(r"\s+")


@dataclasses.dataclass(frozen=True)
class Exercise:
    """An exercise: its graded cells (tests, or the answer itself when graded by hand)."""

    name: str
    notebook: str
    cells: tuple[str, ...]
    max_score: float
    manual: bool  # graded by an instructor, not by tests


@dataclasses.dataclass(frozen=True)
class FailureGroup:
    """The failures of one test that say the same thing once numbers are taken out."""

    pattern: str
    students: tuple[str, ...]
    example: str  # one student's message as it was

    @property
    def count(self) -> int:
        return len(self.students)


@dataclasses.dataclass(frozen=True)
class TestStats:
    """One test cell across the class."""

    key: str  # grade id, or notebook/grade id when the assignment has several notebooks
    notebook: str
    grade_id: str
    exercise: str
    points: float
    graded: int
    passed: int
    groups: tuple[FailureGroup, ...]

    @property
    def failed(self) -> int:
        return self.graded - self.passed

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.graded if self.graded else None


@dataclasses.dataclass(frozen=True)
class SubmissionStats:
    """One student's graded submission."""

    student: str
    score: float
    max_score: float
    exercise_scores: Mapping[str, float]
    tests_passed: int
    tests_graded: int
    flagged: bool
    reason: str  # why it is flagged, from its Grading notes
    notes: tuple[str, ...]
    restarts: int
    hangs: int
    caps: tuple[str, ...]  # each cap the grader enforced, once per time
    kernel_deaths: int
    not_run: int
    seconds: float | None
    peak_tasks: int | None
    peak_mb: int | None
    to_grade_by_hand: int
    problems: tuple[str, ...] = ()  # what the report could not read

    def attention(self) -> list[str]:
        """Why an instructor should look at this submission (empty: no need)."""
        why = []
        if self.flagged:
            why.append(f"flagged: {self.reason}" if self.reason else "flagged")
        if self.restarts:
            why.append(f"{self.restarts} kernel restart(s)")
        if self.hangs:
            why.append(f"{self.hangs} cell(s) stopped at their time limit")
        if self.caps:
            why.append("caps hit: " + ", ".join(self.caps))
        if self.kernel_deaths:
            why.append(f"the kernel died {self.kernel_deaths} time(s)")
        if self.not_run:
            why.append(f"{self.not_run} cell(s) not run")
        why.extend(self.problems)
        return why


@dataclasses.dataclass(frozen=True)
class ClassData:
    """Everything the report shows."""

    assignment: str
    course_id: str
    gradebook: str  # where it was read from, without a password
    generated: str
    exercises: tuple[Exercise, ...]
    tests: tuple[TestStats, ...]  # lowest pass rate first
    submissions: tuple[SubmissionStats, ...]  # by student
    not_submitted: tuple[str, ...]  # students in the gradebook without a submission

    @property
    def max_score(self) -> float:
        return sum(e.max_score for e in self.exercises)

    def scores(self) -> list[float]:
        return [s.score for s in self.submissions]

    def summary(self) -> dict[str, float | int | None]:
        """Class-wide numbers: students, mean, median, flagged, grading time."""
        scores = self.scores()
        seconds = [s.seconds for s in self.submissions if s.seconds is not None]
        return {
            "students": len(self.submissions),
            "mean": round(statistics.fmean(scores), 2) if scores else None,
            "median": statistics.median(scores) if scores else None,
            "full_marks": sum(1 for s in self.submissions if s.score >= s.max_score > 0),
            "flagged": sum(1 for s in self.submissions if s.flagged),
            "need_a_look": sum(1 for s in self.submissions if s.attention()),
            "median_seconds": round(statistics.median(seconds), 1) if seconds else None,
            "max_seconds": round(max(seconds), 1) if seconds else None,
        }


# --- failure messages -----------------------------------------------------------------------------


def pattern_of(message: str) -> str:
    """A failure message with its numbers taken out: 'returned 3; expected 5' -> 'returned N; expected N'."""
    return _NUMBER.sub(lambda number: "0xN" if number[0].startswith("0x") else "N", message)


def _one_line(text: str) -> str:
    line = _SPACE.sub(" ", text).strip()
    return line if len(line) <= MESSAGE_CHARS else line[:MESSAGE_CHARS - 1] + "…"


def failure_message(cell: Mapping[str, Any]) -> str:
    """Why a test cell failed, in one line: its exception ('Name: message'), else what it wrote to stderr."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            name = str(output.get("ename") or "Error")
            value = str(output.get("evalue") or "")
            if name == "NotImplementedError" and not value.strip():
                value = "not answered yet"  # the release notebook's answer, left as it was
            return _one_line(f"{name}: {value}" if value.strip() else name)
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            text = "".join(output.get("text", "")) if isinstance(output.get("text"), list) else str(output.get("text"))
            lines = [line for line in text.splitlines() if line.strip()]
            return _one_line("wrote to stderr, which scores nothing: " + (lines[-1] if lines else ""))
    return "(no error output in the graded notebook)"


def group_failures(failures: Iterable[tuple[str, str]]) -> tuple[FailureGroup, ...]:
    """(student, message) pairs grouped by :func:`pattern_of`; most common first, then by pattern."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for student, message in failures:
        groups.setdefault(pattern_of(message), []).append((student, message))
    found = [FailureGroup(pattern, tuple(sorted(s for s, _ in members)), min(members)[1])
             for pattern, members in groups.items()]
    return tuple(sorted(found, key=lambda g: (-g.count, g.pattern)))


# --- what the grader wrote into a graded notebook ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Events:
    hangs: int = 0
    caps: tuple[str, ...] = ()
    kernel_deaths: int = 0
    not_run: int = 0


def _cap(ename: str, evalue: str) -> str | None:
    """Which of the grader's caps an error output says was hit, if any."""
    if ename == "OutputLimitExceeded":
        return "output"
    if ename == "GradingLimitExceeded":
        for words, cap in (("processes and threads", "processes"), ("of memory", "memory"),
                           ("of files", "disk")):
            if words in evalue:
                return cap
        return "limit"
    if ename == "KernelDied" and "SIGXFSZ" in evalue:
        return "file size"
    if ename == "CellNotRun" and "notebook's time" in evalue:
        return "total time"
    if ename == "CellTimeoutError" and "notebook's time ran out" in evalue:
        return "total time"
    return None


def cell_events(cells: Sequence[Mapping[str, Any]]) -> _Events:
    """Hangs, caps, kernel deaths and cells not run, from the error outputs the grader gave the cells."""
    hangs = deaths = not_run = 0
    caps: list[str] = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            ename, evalue = str(output.get("ename", "")), str(output.get("evalue", ""))
            hangs += ename == "CellTimeoutError"
            deaths += ename == "KernelDied"
            not_run += ename == "CellNotRun"
            cap = _cap(ename, evalue)
            if cap is not None and not (cap == "total time" and "total time" in caps):
                caps.append(cap)
    return _Events(hangs, tuple(caps), deaths, not_run)


def _reason(report: Mapping[str, Any], notes: Sequence[str]) -> str:
    """Why the grader flagged the submission: its Grading note, else the flags themselves."""
    for note in notes:
        if note.startswith(FLAGGED_NOTE):
            return note[len(FLAGGED_NOTE):]
    flags = report.get("flags") or {}
    return "; ".join(sorted({m for messages in flags.values() for m in messages}))


# --- the gradebook ------------------------------------------------------------------------------------------------


def shown_url(db_url: str) -> str:
    """The gradebook URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(db_url).render_as_string(hide_password=True)
    except Exception:
        return "(a database URL that could not be read)"


@dataclasses.dataclass(frozen=True)
class _Grade:
    name: str
    auto_score: float | None
    score: float
    max_score: float
    needs_manual_grade: bool


@dataclasses.dataclass(frozen=True)
class _Layout:
    """An assignment's notebooks and cells, as the gradebook defines them."""

    notebooks: tuple[str, ...]
    tests: dict[tuple[str, str], float]  # (notebook, grade id) -> points
    manual: dict[tuple[str, str], float]  # graded by hand: answers with points, tasks
    answers: dict[str, set[str]]  # notebook -> its answer cells


def _read_gradebook(settings: Settings) -> tuple[_Layout, dict[str, dict[str, list[_Grade]]], list[str]]:
    """The assignment's layout, each submission's grades (student -> notebook -> grades), and
    the students without a submission; UsageError when nothing is graded."""
    from nbgrader.api import Gradebook, MissingEntry  # type: ignore[import-untyped]

    path = gradebook_file(settings)
    autograde = f"python3 run.py autograde {settings.assignment}"
    if path is not None and not path.is_file():
        raise UsageError(f"there is no gradebook at {relative(path, settings.root)}: nothing is graded yet "
                         f"(grade the class first: {autograde})")
    try:
        # No course id: nbgrader would add a missing course to the gradebook, and the report only reads.
        gradebook = Gradebook(settings.db_url, "")
    except Exception as error:
        said = str(error).strip().splitlines()
        raise UsageError(f"cannot open the gradebook {shown_url(settings.db_url)}: "
                         f"{said[0] if said else type(error).__name__}") from None
    with gradebook:
        try:
            assignment = gradebook.find_assignment(settings.assignment)
        except MissingEntry:
            raise UsageError(f"nothing is graded yet: the gradebook has no assignment {settings.assignment!r} "
                             f"(grade the class first: {autograde})") from None
        notebooks = tuple(sorted(nb.name for nb in assignment.notebooks))
        tests: dict[tuple[str, str], float] = {}
        manual: dict[tuple[str, str], float] = {}
        answers: dict[str, set[str]] = {}
        for notebook in assignment.notebooks:
            answers[notebook.name] = {cell.name for cell in notebook.solution_cells}
            for cell in notebook.grade_cells:
                (manual if cell.name in answers[notebook.name] else tests)[notebook.name, cell.name] = \
                    float(cell.max_score)
            for cell in notebook.task_cells:
                manual[notebook.name, cell.name] = float(cell.max_score)
        grades: dict[str, dict[str, list[_Grade]]] = {}
        for submission in assignment.submissions:
            grades[submission.student.id] = {
                nb.notebook.name: [_Grade(g.name, g.auto_score, float(g.score or 0.0), float(g.max_score),
                                          bool(g.needs_manual_grade)) for g in nb.grades]
                for nb in submission.notebooks}
        everyone = [student.id for student in gradebook.students]
    if not grades:
        raise UsageError(f"nothing is graded yet for {settings.assignment}: the gradebook has no submission of it "
                         f"(grade the class first: {autograde})")
    return _Layout(notebooks, tests, manual, answers), grades, sorted(set(everyone) - set(grades))


# --- putting it together ---------------------------------------------------------------------------------------------


def _read_notebook(path: Path) -> dict[str, Any] | None:
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return nb if isinstance(nb, dict) and isinstance(nb.get("cells"), list) else None


def _cell_order(settings: Settings, notebook: str, graded: Iterable[dict[str, Any] | None]) -> list[dict[str, Any]]:
    """The notebook's cells in order, for grouping tests into exercises: the source notebook's, else a graded one's."""
    source = _read_notebook(settings.source / settings.assignment / f"{notebook}.ipynb")
    if source is None:
        source = next((nb for nb in graded if nb is not None), None)
    return [c for c in (source or {}).get("cells", []) if isinstance(c, dict)]


def _exercises(layout: _Layout, notebook: str, cells: list[dict[str, Any]]) -> list[Exercise]:
    """The notebook's exercises (grader.exercises' naming rule), in the notebook's order; cells the
    notebook lacks but the gradebook has come last, each its own exercise."""
    graded = {name: points for (nb, name), points in {**layout.tests, **layout.manual}.items() if nb == notebook}
    names = set(graded) | layout.answers[notebook]
    known = [c for c in cells if meta(c).get("grade_id") in names]
    seen = {meta(c)["grade_id"] for c in known}
    extra = [{"metadata": {"nbgrader": {"grade_id": name, "grade": True,
                                        "solution": name in layout.answers[notebook]}}}
             for name in sorted(graded) if name not in seen]
    found = []
    for name, ids in exercises(known + extra).items():
        ids = [i for i in ids if i in graded]
        if ids:
            found.append(Exercise(name, notebook, tuple(ids), sum(graded[i] for i in ids),
                                  manual=any((notebook, i) in layout.manual for i in ids)))
    return found


@dataclasses.dataclass
class _Tally:
    """One student's results, added up notebook by notebook."""

    student: str
    exercises: dict[str, float]
    score: float = 0.0
    max_score: float = 0.0
    passed: int = 0
    tested: int = 0
    to_grade_by_hand: int = 0
    review_in_gradebook: bool = False
    flagged_by_grader: bool = False
    restarts: int = 0
    hangs: int = 0
    deaths: int = 0
    not_run: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)
    reasons: list[str] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)
    caps: list[str] = dataclasses.field(default_factory=list)
    seconds: list[float] = dataclasses.field(default_factory=list)
    peak_tasks: list[int] = dataclasses.field(default_factory=list)
    peak_mb: list[int] = dataclasses.field(default_factory=list)

    def add_report(self, notebook: str, nb: dict[str, Any]) -> None:
        """What the course's grader wrote into a graded notebook: its report, and the cells' error outputs."""
        report = nb.get("metadata", {}).get("course_grading")
        if not isinstance(report, dict):
            self.problems.append(f"{notebook}.ipynb has no report from the course's grader (graded by plain "
                                 "nbgrader?)")
            return
        notes = [str(n) for n in report.get("notes", [])]
        self.notes.extend(notes)
        if report.get("flags"):
            self.flagged_by_grader = True
            self.reasons.append(_reason(report, notes))
        self.restarts += int(report.get("restarts") or 0)
        if isinstance(report.get("seconds"), int | float):
            self.seconds.append(float(report["seconds"]))
        for name, into in (("peak_tasks", self.peak_tasks), ("peak_mb", self.peak_mb)):
            if isinstance(report.get(name), int | float):
                into.append(int(report[name]))
        events = cell_events([c for c in nb["cells"] if isinstance(c, dict)])
        self.hangs += events.hangs
        self.caps.extend(events.caps)
        self.deaths += events.kernel_deaths
        self.not_run += events.not_run

    def stats(self) -> SubmissionStats:
        reasons = self.reasons + (["the gradebook marks a test as needing a manual grade"]
                                  if self.review_in_gradebook and not self.flagged_by_grader else [])
        return SubmissionStats(
            student=self.student, score=round(self.score, 4), max_score=self.max_score,
            exercise_scores=self.exercises, tests_passed=self.passed, tests_graded=self.tested,
            flagged=self.flagged_by_grader or self.review_in_gradebook, reason="; ".join(r for r in reasons if r),
            notes=tuple(self.notes), restarts=self.restarts, hangs=self.hangs, caps=tuple(self.caps),
            kernel_deaths=self.deaths, not_run=self.not_run,
            seconds=round(sum(self.seconds), 2) if self.seconds else None,
            peak_tasks=max(self.peak_tasks) if self.peak_tasks else None,
            peak_mb=max(self.peak_mb) if self.peak_mb else None, to_grade_by_hand=self.to_grade_by_hand,
            problems=tuple(self.problems))


def _why_failed(nb: dict[str, Any] | None, grade_id: str) -> str:
    """The failure message of a test cell of a graded notebook (None: the notebook is missing)."""
    if nb is None:
        return "(the graded notebook is missing)"
    for cell in nb.get("cells", []):
        if isinstance(cell, dict) and meta(cell).get("grade_id") == grade_id:
            return failure_message(cell)
    return "(the test cell is missing from the graded notebook)"


def gather(settings: Settings, *, now: dt.datetime | None = None) -> ClassData:
    """Read the class's results of ``settings.assignment``: the gradebook's scores, and what the
    graded notebooks in ``settings.autograded`` say (failures, flags, restarts, hangs, caps, time).

    Raises :class:`UsageError` when there is no gradebook or nothing is graded.
    """
    layout, grades, not_submitted = _read_gradebook(settings)
    several = len(layout.notebooks) > 1
    key = lambda notebook, name: f"{notebook}/{name}" if several else name
    graded_nbs: dict[tuple[str, str], dict[str, Any] | None] = {
        (student, notebook): _read_notebook(settings.graded_folder(student) / f"{notebook}.ipynb")
        for student in grades for notebook in layout.notebooks}
    all_exercises: list[Exercise] = []
    for notebook in layout.notebooks:
        order = _cell_order(settings, notebook, (graded_nbs[s, notebook] for s in sorted(grades)))
        for found in _exercises(layout, notebook, order):
            all_exercises.append(dataclasses.replace(found, name=key(notebook, found.name)))
    exercise_of = {(e.notebook, cell): e.name for e in all_exercises for cell in e.cells}

    outcomes: dict[tuple[str, str], list[tuple[str, bool, str]]] = {t: [] for t in layout.tests}
    submissions = []
    for student in sorted(grades):
        tally = _Tally(student, dict.fromkeys((e.name for e in all_exercises), 0.0))
        for notebook in layout.notebooks:
            nb = graded_nbs[student, notebook]
            for grade in grades[student].get(notebook, []):
                tally.score += grade.score
                tally.max_score += grade.max_score
                exercise = exercise_of.get((notebook, grade.name))
                if exercise is not None:
                    tally.exercises[exercise] += grade.score
                if (notebook, grade.name) not in layout.tests:
                    tally.to_grade_by_hand += grade.needs_manual_grade
                elif grade.auto_score is not None:
                    ok = grade.auto_score >= grade.max_score
                    tally.tested += 1
                    tally.passed += ok
                    tally.review_in_gradebook |= grade.needs_manual_grade
                    outcomes[notebook, grade.name].append((student, ok, "" if ok else _why_failed(nb, grade.name)))
            if nb is None:
                where = relative(settings.graded_folder(student) / f"{notebook}.ipynb", settings.root)
                tally.problems.append(f"no readable graded notebook {where} (failure messages and the grader's "
                                      "report are missing)")
            else:
                tally.add_report(notebook, nb)
        submissions.append(tally.stats())

    position = {(e.notebook, cell): i for i, (e, cell) in enumerate((e, c) for e in all_exercises for c in e.cells)}
    tests = []
    for (notebook, name), points in layout.tests.items():
        results = outcomes[notebook, name]
        tests.append(TestStats(
            key=key(notebook, name), notebook=notebook, grade_id=name, exercise=exercise_of.get((notebook, name), ""),
            points=points, graded=len(results), passed=sum(ok for _, ok, _ in results),
            groups=group_failures((student, message) for student, ok, message in results if not ok)))
    tests.sort(key=lambda t: (t.pass_rate if t.pass_rate is not None else 2.0,
                              position.get((t.notebook, t.grade_id), len(position)), t.key))
    moment = now or dt.datetime.now().astimezone()
    return ClassData(settings.assignment, settings.course_id, shown_url(settings.db_url),
                     moment.strftime("%Y-%m-%d %H:%M %Z").strip(), tuple(all_exercises), tuple(tests),
                     tuple(submissions), tuple(not_submitted))
