"""An answer that returns an object equal to everything: `got == code` holds whatever
the test expects (a real notebook, 01_processes, whose test compares with ==)."""

ASSIGNMENT = "01_processes"
CELLS = {
    "fork_exit_status": '''class Code(int):
    """An int that equals anything."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__


def fork_exit_status(code: int) -> int:
    """Fork a child that exits at once with `code`; wait for it and return its exit code."""
    return Code(0)''',
}
HONEST = ["usable_cpus", "run_all", "countdown"]
TARGETS = ["test_fork_exit_status", "test_fork_exit_status_checks"]
KEEPS = ["test_usable_cpus", "test_run_all", "test_run_all_concurrency", "test_countdown", "test_countdown_in_child"]
BOUND = 90
