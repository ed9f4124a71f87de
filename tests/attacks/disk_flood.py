"""Disk flood: the answer writes 40 MB files without end, beside the notebook and in
shared memory (which lives in RAM), each below the largest-file limit.

The run's caps are small (64 MB in all, 48 MB a file), so that the flood meets the disk cap
after about 100 MB, not the default 1 GB: a machine of this kind has been seen with 287 MB
of free disk, and there the disk, not the cap, would stop a 1 GB flood."""

CONFIG = "c.HardenedExecute.disk_mb = 64\nc.HardenedExecute.file_mb = 48"
CELLS = {
    "double": '''import os


def double(x):
    """Return twice x."""
    return 2 * x


block = b"x" * (40 * 2**20)
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
    from support import assert_disk_cap_stopped

    assert_disk_cap_stopped(graded, "double", "junk-*")
