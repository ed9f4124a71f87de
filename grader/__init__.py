"""Grading instructors can trust: a bounded, contained, tamper-resistant ``nbgrader autograde``.

``nbgrader_config.py`` puts these preprocessors in place of nbgrader's, so the ordinary
``nbgrader autograde <assignment>`` gets them:

* :class:`grader.sanitize.RestoreGradedCells` (sanitizing) rebuilds every graded
  and locked cell from the gradebook: edited metadata, deleted or duplicated test cells;
* :class:`grader.execute.HardenedExecute` (in place of nbgrader's ``Execute``)
  runs the notebook within its bounds, in a contained kernel, with the hidden tests run by
  the in-kernel sentinel, and grades whatever could not run as 0, saying why;
* :class:`grader.review.FlagForReview` (after ``SaveAutoGrades``) marks submissions
  that tried to tamper, or that the grader could not verify, for an instructor's review.

One module per concern: :mod:`~grader.execute` (the preprocessor and its limits),
:mod:`~grader.kernelmanager` and :mod:`~grader_kernel.main` (starting the
contained kernel), :mod:`~grader.sandbox` (users, folders, environment),
:mod:`~grader.processes` (finding, watching and ending processes),
:mod:`~grader_kernel.landlock` and :mod:`~grader_kernel.privileges` (Linux controls),
:mod:`~grader_kernel.sentinel` and :mod:`~grader_kernel.protocol` (the in-kernel guard),
:mod:`~grader.scan` (the static scan of answers),
:mod:`~grader.guard` (the course files guard).

Two commands build on them: :mod:`~grader.classgrade` (``python3 run.py
autograde``: a whole class, several students at once) and :mod:`~grader.selfcheck`
(``python3 run.py check``: a learner's own notebook, in a scratch course).

Importing this package has no side effects and imports none of them.
"""
