"""An answer that never returns in a real notebook of the course (01_processes): run_all
loops forever whenever it is called, from a demonstration or a test. It must cost its own
tests their points and little time: the grader does not wait out every later cell on it."""

ASSIGNMENT = "01_processes"
CELLS = {
    "run_all": '''def run_all(target, args_list):
    """Start one process per argument tuple, then join them; return their exit codes."""
    while True:
        pass''',
}
HONEST = ["usable_cpus", "fork_exit_status", "countdown"]
TARGETS = ["test_run_all", "test_run_all_concurrency"]
KEEPS = ["test_usable_cpus", "test_fork_exit_status", "test_fork_exit_status_checks", "test_countdown",
         "test_countdown_in_child"]
# Graded in about 30 s: the demonstration that calls it is stopped after 20 s, and the checks
# after it see that it hung there and fail at once. The loop computes, so on a busy machine
# the demonstration may run 3 times its 20 s (busy_stretch): 100 leaves room for that.
BOUND = 100
