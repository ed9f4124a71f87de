"""The course's grader settings for nbgrader, in one function."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

__all__ = ["configure", "mixed_installation"]


def mixed_installation() -> str | None:
    """Why this grader cannot be used, if its ``grader`` and ``grader_kernel`` packages come
    from two different copies of the course (the host would seal cells for, and write specs
    to, a kernel of another version); None when they are one installation."""
    import grader
    import grader_kernel

    host = Path(grader.__file__ or "").resolve().parent.parent
    kernel = Path(grader_kernel.__file__ or "").resolve().parent.parent
    if host == kernel and (kernel / "grader_kernel" / "main.py").is_file():
        return None
    return (f"the grader is imported from {host} but its kernel from {kernel}: two copies of the course are "
            "mixed. Grade from the course folder with an environment whose grader is that folder's "
            "(pip install -e .), or remove the grader/ and grader_kernel/ folders from the course folder so "
            "that the installed grader is used.")


def configure(c: Any) -> None:
    """Make nbgrader's autograde run through the hardened grader (README "Grading safely").

    ``c`` is the config object of an ``nbgrader_config.py``. These are nbgrader 0.9's own
    preprocessor lists with the course's preprocessors in three places, and the bounds on
    each notebook. Settings made after this call override these ones.
    """
    problem = mixed_installation()
    if problem:
        # SystemExit, not an exception: traitlets logs an exception raised while loading a
        # config file and goes on without the file, which would grade with plain nbgrader.
        print(f"nbgrader_config.py: {problem}", file=sys.stderr)
        raise SystemExit(2)
    # A database server's connections come from one bounded pool per process (nbgrader #560).
    from grader.database import install_pool

    install_pool()
    # Strings, so that loading the config (every nbgrader command does) imports nothing more.
    c.Autograde.sanitize_preprocessors = [
        "nbgrader.preprocessors.ClearOutput",
        # First: rebuild graded and locked cells from the gradebook (edited metadata, deleted or
        # duplicated test cells), before nbgrader's checks can drop the submission over them.
        "grader.sanitize.RestoreGradedCells",
        "nbgrader.preprocessors.DeduplicateIds",
        "nbgrader.preprocessors.OverwriteKernelspec",
        "nbgrader.preprocessors.OverwriteCells",
        "nbgrader.preprocessors.CheckCellMetadata",
    ]
    c.Autograde.autograde_preprocessors = [
        # In place of nbgrader's Execute: bounded, contained, never dropping a submission.
        "grader.execute.HardenedExecute",
        "nbgrader.preprocessors.IgnorePattern",
        "nbconvert.preprocessors.ClearMetadataPreprocessor",
        "nbgrader.preprocessors.LimitOutput",
        "nbgrader.preprocessors.SaveAutoGrades",
        # After the scores are saved: mark what the grader could not trust for review.
        "grader.review.FlagForReview",
        "nbgrader.preprocessors.AssignLatePenalties",
        "nbgrader.preprocessors.CheckCellMetadata",
    ]
    # Bounds on each notebook. An honest notebook of this course runs in under 20 s; a cell
    # may run for Execute.timeout. The total covers a few hung cells and kernel restarts.
    c.HardenedExecute.total_seconds = 180  # the whole notebook, restarts included
    c.HardenedExecute.overrun_seconds = 60  # past total_seconds: the last bound, on a kernel that stops answering
    c.HardenedExecute.answer_timeout = 20  # an answer cell defines functions; it does not compute
    c.HardenedExecute.demo_timeout = 20  # a demonstration takes seconds; one that waits on a hung answer stops
    c.HardenedExecute.after_hang_timeout = 5  # a demonstration after a cell hung: it likely calls the hung answer
    c.HardenedExecute.busy_stretch = 3  # a demonstration held back by other programs may run 3 timeouts
    c.HardenedExecute.start_attempts = 3  # kernel starts, each on fresh ports, before it scores 0 with a note
    c.HardenedExecute.kernel_transport = "ipc"  # Unix sockets in each kernel's folder: no port another kernel shares
    c.HardenedExecute.max_tasks = 256  # processes + threads at once (a Pool of 8 and the kernel use ~40)
    c.HardenedExecute.memory_mb = 2048  # resident memory of all of the notebook's processes together
    c.HardenedExecute.output_kb = 4096  # output kept per notebook; a flood is cut and interrupted
    c.HardenedExecute.disk_mb = 1024  # files written in all (its folder, temporary files, shared memory)
    c.HardenedExecute.max_restarts = 3  # kernel restarts after a death or hang, then the rest is not run
