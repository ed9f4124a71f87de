"""Disk burst: the answer writes past the disk cap in a fraction of a second and returns,
between two of the watchdog's once-a-second checks; the cap must charge that cell, not
whichever cell runs when the watchdog next looks (or none, if the notebook ends first)."""

CONFIG = "c.HardenedExecute.disk_mb = 64\nc.HardenedExecute.file_mb = 48"
CELLS = {
    "double": '''import os


def double(x):
    """Return twice x."""
    return 2 * x


block = b"x" * (40 * 2**20)
for i, folder in enumerate(["/dev/shm", ".", "/dev/shm"]):
    try:
        with open(os.path.join(folder, f"burst-{os.getpid()}-{i}"), "wb") as file:
            file.write(block)
    except OSError as error:
        print(folder, "refused:", error)''',
}
HONEST = ["add", "square"]
TARGETS = ["test_double"]  # the kernel is restarted after `double`, which is not run again
KEEPS = ["test_add", "test_square"]
BOUND = 60


def check(course, student, graded):
    from support import assert_disk_cap_stopped

    assert_disk_cap_stopped(graded, "double", "burst-*")
