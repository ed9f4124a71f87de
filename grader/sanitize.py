"""``RestoreGradedCells``: every graded and locked cell of a submission, exactly once, as
the gradebook has it, before nbgrader's own checks.

nbgrader 0.9 trusts too much of a submission's cell metadata (checked on 0.9.6):

* a test cell whose ``grade`` flag a student turned off is not graded at all, and one
  turned into a ``solution`` makes OverwriteCells raise "Inconsistent checksums": the
  submission is dropped;
* a duplicated test cell loses its metadata to ``DeduplicateIds`` in a way the metadata
  validator rejects as an old schema, and that error aborts the *whole class's* run;
* a deleted test cell is not put back (``add_missing_cells`` is off, and its placement
  fails when the cells around it are missing too).

This preprocessor runs first among the sanitizing ones: it keeps the last copy of each
graded or locked cell (nbgrader's rule), turns other copies and cells claiming unknown
ids into plain cells, resets every kept cell's nbgrader metadata from the gradebook, and
puts missing graded and locked cells back after the nearest cell that precedes them in
the source notebook. nbgrader's ``OverwriteCells`` then restores their source as usual.
"""

from __future__ import annotations

from typing import Any

import nbformat
from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader.api import Gradebook  # type: ignore[import-untyped]
from nbgrader.preprocessors import NbGraderPreprocessor  # type: ignore[import-untyped]

__all__ = ["RestoreGradedCells", "fit_cell"]

_SCHEMA = 3


class RestoreGradedCells(NbGraderPreprocessor):
    """Rebuild the graded and locked cells of a submission from the gradebook."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gradebook:
            notebook = gradebook.find_notebook(info["notebook"], info["assignment"])
            sources = {cell.name: cell for cell in notebook.source_cells}
            order = [cell.name for cell in notebook.source_cells]
            grades = {cell.name: cell for cell in notebook.grade_cells}
            solutions = {cell.name for cell in notebook.solution_cells}
            tasks = {cell.name: cell for cell in notebook.task_cells}
            self._restore(nb, sources, order, grades, solutions, tasks)
        return nb, resources

    def _restore(self, nb: NotebookNode, sources: dict[str, Any], order: list[str], grades: dict[str, Any],
                 solutions: set[str], tasks: dict[str, Any]) -> None:
        seen: set[str] = set()
        for cell in reversed(nb.cells):
            meta = cell.metadata.get("nbgrader")
            if not isinstance(meta, dict) or not meta:
                continue
            grade_id = meta.get("grade_id")
            if grade_id not in sources or grade_id in seen:
                if grade_id in seen:
                    self.log.warning("Cell %s appears more than once: the earlier copies are ordinary cells", grade_id)
                elif meta.get("grade") or meta.get("solution") or meta.get("locked") or meta.get("task"):
                    self.log.warning("Cell %r is not in the gradebook: it is an ordinary cell", grade_id)
                del cell.metadata["nbgrader"]
                continue
            seen.add(grade_id)
            source = sources[grade_id]
            if cell.cell_type != source.cell_type:
                self.log.warning("Cell %s changed type: it is %s again", grade_id, source.cell_type)
                _set_type(cell, source.cell_type)
            wanted = _metadata(grade_id, source, grades, solutions, tasks)
            if {k: meta.get(k) for k in wanted} != wanted:
                self.log.warning("The nbgrader metadata of cell %s was changed: restored from the gradebook", grade_id)
            cell.metadata["nbgrader"] = wanted
        # Put back what is missing: graded cells, and locked cells (tests need their helpers).
        position = {name: index for index, name in enumerate(order)}
        for grade_id in order:
            if grade_id in seen:
                continue
            source = sources[grade_id]
            if not (grade_id in grades or source.locked or grade_id in tasks):
                continue
            self.log.warning("Cell %s is missing from the submission: put back", grade_id)
            cell = fit_cell(nb, nbformat.v4.new_code_cell(source.source) if source.cell_type == "code"
                            else nbformat.v4.new_markdown_cell(source.source))
            cell.metadata["nbgrader"] = _metadata(grade_id, source, grades, solutions, tasks)
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
            before = {c.metadata.get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(nb.cells)}
            # After the last cell that comes before it in the source, else before the first that
            # comes after it (a helper at the top of the notebook), else at the end.
            earlier = [before[name] for name in order[: position[grade_id]] if name in before]
            later = [before[name] for name in order[position[grade_id] + 1:] if name in before]
            nb.cells.insert(max(earlier) + 1 if earlier else min(later) if later else len(nb.cells), cell)
            seen.add(grade_id)


def fit_cell(nb: NotebookNode, cell: NotebookNode) -> NotebookNode:
    """``cell`` (made by nbformat.v4) fitted to ``nb``'s format: cells have ids from
    nbformat 4.5 on, and an older notebook with one fails validation when written."""
    if (nb.get("nbformat"), nb.get("nbformat_minor", 5)) < (4, 5):
        cell.pop("id", None)
    return cell


def _metadata(grade_id: str, source: Any, grades: dict[str, Any], solutions: set[str],
              tasks: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {"grade_id": grade_id, "schema_version": _SCHEMA, "locked": bool(source.locked),
                            "solution": grade_id in solutions, "grade": grade_id in grades}
    if grade_id in grades:
        meta["points"] = float(grades[grade_id].max_score)
    if grade_id in tasks:
        meta.update(task=True, grade=False, points=float(tasks[grade_id].max_score))
    if meta["solution"]:
        meta["locked"] = False
    return meta


def _set_type(cell: NotebookNode, cell_type: str) -> None:
    cell.cell_type = cell_type
    if cell_type == "code":
        cell.setdefault("outputs", [])
        cell.setdefault("execution_count", None)
    else:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)
