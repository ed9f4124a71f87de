"""Helpers for the Python processes-and-threads course: workers, checks, timing and the worker-count explorer."""

# Importing the package must stay free of side effects (no start-method changes, no
# threads, no rcParams): notebooks import it first, and so does every child process that
# the spawn and forkserver start methods create. Submodules are imported where they are used.
__all__ = [
    "async_checks", "capture", "checkbutton", "checks", "cpus", "explorer", "lock_checks", "net", "plots",
    "pool_checks", "proc_checks", "queue_checks", "sweep", "timeline", "timing", "workers",
]

__version__ = "1.0.0"
