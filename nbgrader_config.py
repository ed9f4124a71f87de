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
    "08_async_and_choosing",
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
# grader.config holds those settings (nbgrader's own autograde tests run against them too).
from grader.config import configure  # noqa: E402 -- after get_config(), as nbgrader expects

configure(c)
