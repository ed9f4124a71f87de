"""The results of a class grading run: one per student, the run's table, and the grades a
gradebook holds (what "the same results" means when comparing two runs)."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple, TextIO

from rich.console import Console
from rich.table import Table

__all__ = ["CellResult", "ClassReport", "StudentResult", "grades_of"]


@dataclasses.dataclass(frozen=True)
class StudentResult:
    """What happened to one student's submission in a run.

    ``status``: "graded", "skipped" (graded before; ``--force`` regrades), "error" (nbgrader
    could not grade it: ``message`` says why, as sequential ``nbgrader autograde`` would
    report it), or "not graded" (the run stopped first; the student is as before the run).
    """

    student: str
    status: str
    score: float | None = None
    max_score: float | None = None
    flagged: bool = False
    seconds: float | None = None
    message: str = ""
    write_seconds: float = 0.0  # the coordinator's time for it: receiving the result and writing it

    def brief(self) -> str:
        """'8/10, 12.3 s, graded' and the like."""
        parts = []
        if self.score is not None and self.max_score is not None:
            parts.append(f"{self.score:g}/{self.max_score:g}")
        if self.seconds is not None:
            parts.append(f"{self.seconds:.1f} s")
        parts.append(self.status + (", flagged for review" if self.flagged else ""))
        return ", ".join(parts)


@dataclasses.dataclass
class ClassReport:
    """A whole run: one result per student, and what the run as a whole noticed."""

    assignment: str
    jobs: int
    seconds: float
    results: list[StudentResult]
    interrupted: bool = False
    warnings: list[str] = dataclasses.field(default_factory=list)
    error: str = ""  # why the run stopped, when the gradebook stopped answering

    @property
    def exit_status(self) -> int:
        """130 after Ctrl-C; 2 if the gradebook stopped answering; 1 if any student could not
        be graded (as nbgrader exits); else 0."""
        if self.interrupted:
            return 130
        if self.error:
            return 2
        if any(r.status in ("error", "not graded") for r in self.results) or self.warnings:
            return 1
        return 0

    def footer(self) -> str:
        """'5 students: 4 graded, 1 error · 2 worker(s) · ...'"""
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        work = sum(r.seconds or 0.0 for r in self.results)
        written = [r.write_seconds for r in self.results if r.status == "graded"]
        coordinator = (f"; the coordinator took {1000 * sum(written) / len(written):.0f} ms a submission to receive "
                       "and write it" if written else "")
        return (f"{len(self.results)} students: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
                + f" · {self.jobs} worker(s) · {self.seconds:.1f} s (the notebooks took {work:.1f} s in all"
                + coordinator + ")")

    def table(self) -> Table:
        """The summary: student, score/max, flagged, seconds, status."""
        table = Table(box=None, pad_edge=False, header_style="bold")
        table.add_column("student", no_wrap=True)
        table.add_column("score", justify="right", no_wrap=True)
        table.add_column("flagged", justify="center")
        table.add_column("seconds", justify="right")
        table.add_column("status")
        for r in sorted(self.results, key=lambda r: r.student):
            score = f"{r.score:g} / {r.max_score:g}" if r.score is not None and r.max_score is not None else "-"
            seconds = f"{r.seconds:.1f}" if r.seconds is not None else "-"
            status = r.status + (f": {r.message}" if r.message else "")
            table.add_row(r.student, score, "yes" if r.flagged else "-", seconds, status)
        return table

    def print(self, out: TextIO, stopped_because: str = "") -> None:
        """The table, then what needs the instructor's attention."""
        # Not a terminal (a log, a pipe): no width to fit, and a wrapped row would be hard to grep.
        console = Console(file=out, highlight=False, width=None if out.isatty() else 100_000)
        console.print()
        console.print(self.table())
        console.print()
        console.print(self.footer(), soft_wrap=True, markup=False)
        for result in self.results:
            if result.status == "error":
                console.print(f"\n{result.student}: nbgrader could not grade this submission: {result.message}",
                              soft_wrap=True, markup=False)
        not_graded = [r.student for r in self.results if r.status == "not graded"]
        if not_graded:
            console.print(f"\nNot graded, {stopped_because}: {', '.join(not_graded)}. Each is as it was before this "
                          "run, in the gradebook and in autograded/ (not graded at all, or its earlier grades). Run "
                          "the same command again to grade them.", soft_wrap=True, markup=False)
        for warning in self.warnings:
            console.print(f"\nwarning: {warning}", soft_wrap=True, markup=False)
        if self.error:
            console.print(f"\nerror: {self.error}", soft_wrap=True, markup=False)
        out.flush()


class CellResult(NamedTuple):
    """One graded or commented cell of a student's submission, as the gradebook holds it."""

    auto_score: float | None
    max_score: float | None
    needs_manual_grade: bool | None
    auto_comment: str | None


def grades_of(db_url: str, assignment: str) -> dict[str, dict[str, CellResult]]:
    """student -> cell name -> what the autograder recorded: scores, review flags, comments."""
    from nbgrader.api import Gradebook  # type: ignore[import-untyped]

    found: dict[str, dict[str, CellResult]] = {}
    with Gradebook(db_url) as gradebook:
        for submission in gradebook.find_assignment(assignment).submissions:
            cells: dict[str, CellResult] = {}
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    cells[f"{notebook.name}/{grade.name}"] = CellResult(
                        grade.auto_score, grade.max_score, bool(grade.needs_manual_grade), None)
                for comment in notebook.comments:
                    cells[f"{notebook.name}/{comment.name}#comment"] = CellResult(
                        None, None, None, comment.auto_comment)
            found[submission.student.id] = cells
    return found
