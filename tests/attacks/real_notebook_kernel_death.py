"""A kernel that dies in a real notebook of the course (01_processes): the fork_exit_status
answer ends the kernel with os._exit as soon as it is defined; the later exercises must
still be graded."""

ASSIGNMENT = "01_processes"
CELLS = {
    "fork_exit_status": '''import os


def fork_exit_status(code: int) -> int:
    """Fork a child that exits at once with `code`; wait for it and return its exit code."""
    os._exit(code)


os._exit(3)''',
}
HONEST = ["usable_cpus", "run_all", "countdown"]
TARGETS = ["test_fork_exit_status", "test_fork_exit_status_checks"]
KEEPS = ["test_usable_cpus", "test_run_all", "test_run_all_concurrency", "test_countdown", "test_countdown_in_child"]
BOUND = 120
