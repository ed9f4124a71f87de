"""Output flood: the answer cell prints without end."""

CELLS = {
    "double": '''def double(x):
    """Return twice x."""
    return 2 * x


while True:
    print("flood " * 2000)''',
}
HONEST = ["add", "square"]
TARGETS = []
KEEPS = ["test_add", "test_square"]
BOUND = 60


def check(course, student, graded):
    size = sum(len(str(out)) for cell in graded.cells if cell.cell_type == "code" for out in cell.outputs)
    assert size < 6 * 2**20, f"the graded notebook kept {size} bytes of output; expected the flood to be cut"
