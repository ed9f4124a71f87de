"""``FlagForReview``: after nbgrader has saved the autograder's scores, mark for an
instructor's review what the grader could not trust.

``HardenedExecute`` passes its findings in ``resources["course_grading"]["flags"]``:
``{grade_id: [messages]}``, with ``""`` for findings about the whole notebook. A flagged
test cell, every autograded cell of a notebook flagged as a whole, and the tests of a
flagged answer get ``needs_manual_grade`` (Formgrader lists them as needing grading, with
the autograder's score in place until someone looks); a flagged answer cell gets the
messages as its comment, which the feedback shows. Scores are not changed here.
"""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader.api import Gradebook, MissingEntry  # type: ignore[import-untyped]
from nbgrader.preprocessors import NbGraderPreprocessor  # type: ignore[import-untyped]

__all__ = ["FlagForReview"]


class FlagForReview(NbGraderPreprocessor):
    """Mark flagged submissions as needing an instructor's review, in the gradebook."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        flags: dict[str, list[str]] = resources.get("course_grading", {}).get("flags", {})
        if not flags:
            return nb, resources
        info = resources["nbgrader"]
        graded = [cell.metadata.nbgrader["grade_id"] for cell in nb.cells
                  if cell.metadata.get("nbgrader", {}).get("grade")]
        answers = {cell.metadata.nbgrader["grade_id"] for cell in nb.cells
                   if cell.metadata.get("nbgrader", {}).get("solution")}
        review: set[str] = set()
        for where in flags:
            if where in graded:
                review.add(where)
            elif where in answers:
                # Tests named test_<answer> or test_<answer>_<aspect> check this answer.
                mine = {t for t in graded if t == f"test_{where}" or t.startswith(f"test_{where}_")}
                review |= mine or set(graded)
            else:
                review |= set(graded)
        with Gradebook(info["db_url"]) as gradebook:
            for grade_id in sorted(review):
                try:
                    grade = gradebook.find_grade(grade_id, info["notebook"], info["assignment"], info["student"])
                except MissingEntry:
                    continue
                grade.needs_manual_grade = True
            for where, messages in flags.items():
                if where not in answers:
                    continue
                try:
                    comment = gradebook.find_comment(where, info["notebook"], info["assignment"], info["student"])
                except MissingEntry:
                    continue
                comment.auto_comment = "Flagged for review by the grader: " + "; ".join(messages)
            gradebook.db.commit()
        self.log.warning("Flagged for review (%s): %s", info["student"], "; ".join(
            message for messages in flags.values() for message in messages)[:2000])
        return nb, resources
