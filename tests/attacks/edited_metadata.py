"""Edited cell metadata: test_double is worth 100 points, test_add is no longer graded,
and test_square claims to be an answer cell (which makes nbgrader 0.9 drop the submission)."""

CELLS = {
    "double": '''def double(x):
    """Return twice x."""
    return x + x + 1''',
}
TARGETS = ["test_double", "test_add", "test_square"]


def edit(nb):
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") == "test_double":
            meta["points"] = 100
        elif meta.get("grade_id") == "test_add":
            meta["grade"] = False
            meta["locked"] = False
            cell.source = "pass"
        elif meta.get("grade_id") == "test_square":
            meta["solution"] = True
            cell.source = "pass"


def check(course, student, graded):
    scores = course.scores("target", student)
    assert scores["test_double"][1] == 2, f"test_double is worth {scores['test_double'][1]}; expected 2"
