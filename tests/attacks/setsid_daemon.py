"""A daemon that double-forks, calls setsid, ignores SIGTERM and SIGHUP, and lives on
after the notebook (it records its pid in the submission folder)."""

CELLS = {
    "double": '''import os
import signal
import time


def double(x):
    """Return twice x."""
    return 2 * x


if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        with open("daemon.pid", "w") as file:
            file.write(str(os.getpid()))
        while True:
            time.sleep(1)
    os._exit(0)
time.sleep(0.5)''',
}
HONEST = ["add", "square"]
TARGETS = []
KEEPS = ["test_double", "test_add", "test_square"]


def check(course, student, graded):
    import psutil

    pid_file = course.path / "autograded" / student / "target" / "daemon.pid"
    assert pid_file.exists(), "the daemon never started (it writes daemon.pid)"
    pid = int(pid_file.read_text())
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, (
        f"the daemon (pid {pid}) is still running after grading"
    )
