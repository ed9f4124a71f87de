"""nbgrader settings for the course. The folder holding this file is the course root.

Run every nbgrader command from here (the README's instructor guide lists them in order).
"""

import os

c = get_config()  # noqa: F821 -- nbgrader provides get_config() when it loads this file

# The assignments in teaching order; each one is source/<id>/<id>.ipynb.
ASSIGNMENTS = [
    "01_processes",
    "02_communication",
    "03_process_pools",
    "04_threads",
    "05_locks_and_queues",
    "06_thread_pools",
    "07_gil",
]

c.CourseDirectory.course_id = "processes-and-threads"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))

# Notebooks write modules beside themselves with %%writefile (countdown.py, tally.py, ...):
# when the instructor runs a source notebook, those hold the answers. nbgrader copies
# every other file of source/<id>/ into release/ and over each submission, so no .py
# file is copied: the course's own code lives in the installed `course` package instead.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.py"]

# Cells start processes: under spawn each child starts a fresh interpreter, and a grading
# machine may be busy. The hidden tests bound their own waits to about 10 s, so a minute
# per cell only ends answers that hang.
c.Execute.timeout = 60
c.Execute.startup_timeout = 120

# --- Grading instructors can trust (grader/; README "Grading safely") -------------
# Plain `nbgrader autograde` runs each submission bounded, contained and tamper-resistant:
# these lists are nbgrader 0.9's own, with the course's preprocessors in three places.
# Strings, so that loading this file (every nbgrader command does) imports nothing.
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
# Bounds on each notebook. An honest notebook of this course runs in under 20 s; a cell may
# run for Execute.timeout (above). The total covers a few hung cells and kernel restarts.
c.HardenedExecute.total_seconds = 180  # the whole notebook, restarts included
c.HardenedExecute.answer_timeout = 20  # an answer cell defines functions; it does not compute
c.HardenedExecute.max_tasks = 256  # processes + threads at once (a Pool of 8 and the kernel use ~40)
c.HardenedExecute.memory_mb = 2048  # resident memory of all of the notebook's processes together
c.HardenedExecute.output_kb = 4096  # output kept per notebook; a flood is cut and interrupted
c.HardenedExecute.disk_mb = 1024  # files written in all (its folder, temporary files, shared memory)
c.HardenedExecute.max_restarts = 3  # kernel restarts after a death or hang, then the rest is not run
