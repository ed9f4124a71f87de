"""Duplicated test cell: a copy of test_double, emptied, placed first (nbgrader 0.9 aborts
the whole class's run over duplicated ids)."""

import copy

CELLS = {
    "double": '''def double(x):
    """Return twice x."""
    return x + x + 1''',
}
HONEST = ["add", "square"]
TARGETS = ["test_double"]
KEEPS = ["test_add", "test_square"]


def edit(nb):
    original = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_double")
    for position in (1, len(nb.cells)):
        duplicate = copy.deepcopy(original)
        duplicate.id = f"duplicate-{position}"
        duplicate.source = "pass"
        nb.cells.insert(position, duplicate)
