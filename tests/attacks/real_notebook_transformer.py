"""Input transformer in a real notebook of the course (01_processes): every later cell becomes `pass`."""

ASSIGNMENT = "01_processes"
CELLS = {
    "usable_cpus": '''def usable_cpus() -> int:
    """Return how many CPUs this process may run on (at least 1)."""
    return 0


get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])''',
}
TARGETS = ["test_usable_cpus", "test_fork_exit_status", "test_fork_exit_status_checks", "test_run_all",
           "test_run_all_concurrency", "test_countdown", "test_countdown_in_child"]
BOUND = 90
