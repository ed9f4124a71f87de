"""Functions that run in child processes.

Under the ``spawn`` and ``forkserver`` start methods a child cannot see functions defined
in a notebook: it imports its target by module and name. Every target the course hands to
another process therefore lives here, in an importable module, and works the same under
``fork``, ``spawn`` and ``forkserver``.

The workers report through exit codes and standard output only, because 01 comes before
queues and pipes; none of them writes to standard error on success, since nbgrader gives 0
to a test cell that writes to it.
"""

from __future__ import annotations

import os
import sys
import threading
import time

__all__ = [
    "exit_with",
    "greet",
    "meet_at_barrier",
    "sleep_then_exit",
]


def exit_with(code: int) -> None:
    """Leave the process at once with exit status ``code``."""
    sys.exit(code)


def sleep_then_exit(seconds: float, code: int) -> None:
    """Sleep for ``seconds``, then leave with exit status ``code``."""
    time.sleep(seconds)
    sys.exit(code)


def greet(name: str, greeting: str = "Hello") -> None:
    """Print a greeting that names this process and its parent."""
    # One write per line, so that lines from several children do not interleave.
    print(f"{greeting}, {name}! (pid {os.getpid()}, parent {os.getppid()})\n", end="", flush=True)


def meet_at_barrier(barrier: threading.Barrier, timeout: float) -> None:
    """Wait at ``barrier``; exit 0 if every party arrives within ``timeout`` seconds, else 1.

    A barrier only opens when all its parties wait at it at the same time, so a batch of
    these processes exits with 0 only if every one of them was started before any was
    joined. Running them one after another breaks the barrier instead: the first waits
    ``timeout`` seconds alone, and each later one finds the barrier already broken.
    ``barrier`` is a ``multiprocessing.Barrier`` or a manager's ``Barrier`` proxy (typed
    as their threading twin, which has the same interface); the proxy also works when the
    process was started with another start method than the default.
    """
    try:
        barrier.wait(timeout)
    except threading.BrokenBarrierError:
        sys.exit(1)
