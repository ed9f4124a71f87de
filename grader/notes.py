"""The grader's word on a graded notebook: its report in the metadata, and the Grading notes cell."""

from __future__ import annotations

import nbformat
from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode

from grader.processes import Usage
from grader.run_state import Run
from grader.sanitize import fit_cell

__all__ = ["notes_cell", "write_report"]


def notes_cell(nb: NotebookNode, notes: list[str]) -> NotebookNode:
    """The **Grading notes** cell at the top of a graded notebook."""
    text = "**Grading notes** (written by the grader)\n\n" + "\n".join(f"* {note}" for note in notes)
    cell = fit_cell(nb, nbformat.v4.new_markdown_cell(text))
    cell.metadata["course_grading"] = True
    return cell


def write_report(run: Run, nb: NotebookNode, resources: ResourcesDict, *, seconds: float, peak: Usage,
                 kernel_uid: int | None, busy_seconds: float = 0.0) -> None:
    """Close the run's notes (restarts, flags) and write the report: ``resources["course_grading"]``
    for :class:`grader.review.FlagForReview`, the same in the notebook's metadata, and the notes
    in a cell at its top."""
    flagged = sorted({message for messages in run.flags.values() for message in messages})
    if run.restarts:
        run.notes.append(f"The kernel was restarted {run.restarts} time(s); after each restart the cells "
                         "before the one that stopped it were run again (tests excepted), and grading went on.")
    if flagged:
        run.notes.append("This submission is flagged for an instructor's review: "
                         + "; ".join(flagged[:8]) + (" ..." if len(flagged) > 8 else ""))
    resources["course_grading"] = {
        "flags": {where: sorted(set(messages)) for where, messages in run.flags.items()},
        "notes": run.notes,
        "seconds": round(seconds, 2),
        "busy_seconds": round(busy_seconds, 2),  # of those, held back by other programs (grader.cell_clock)
        "restarts": run.restarts,
        "peak_tasks": peak.tasks,
        "peak_mb": round(peak.rss_bytes / 2**20),
        "kernel_uid": kernel_uid,
    }
    # Kept in the graded notebook too, for the instructor (and the tests) to read.
    nb.metadata["course_grading"] = dict(resources["course_grading"])
    if run.notes:
        nb.cells.insert(0, notes_cell(nb, run.notes))
