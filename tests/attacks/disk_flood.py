"""Disk flood: the answer writes 200 MB files without end, beside the notebook and in
shared memory (which lives in RAM), each below the largest-file limit."""

CELLS = {
    "double": '''import os


def double(x):
    """Return twice x."""
    return 2 * x


block = b"x" * (200 * 2**20)
for i in range(1000):
    for folder in (".", "/dev/shm"):
        try:
            with open(os.path.join(folder, f"junk-{os.getpid()}-{i}"), "wb") as file:
                file.write(block)
        except OSError as error:
            print(folder, "refused:", error)''',
}
HONEST = ["add", "square"]
TARGETS = []
KEEPS = ["test_add", "test_square"]
BOUND = 90


def check(course, student, graded):
    import glob

    notes = graded.cells[0].source if graded.cells[0].metadata.get("course_grading") else ""
    assert "MB of files" in notes, f"the flood was not stopped by the disk cap: {notes[:600]}"
    left = glob.glob("/dev/shm/junk-*")
    assert not left, f"shared memory files were left behind: {left[:3]}"
