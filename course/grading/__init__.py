"""Grading instructors can trust: a bounded, contained, tamper-resistant ``nbgrader autograde``.

``nbgrader_config.py`` puts these preprocessors in place of nbgrader's, so the ordinary
``nbgrader autograde <assignment>`` gets them:

* :class:`course.grading.sanitize.RestoreGradedCells` (sanitizing) rebuilds every graded
  and locked cell from the gradebook: edited metadata, deleted or duplicated test cells;
* :class:`course.grading.execute.HardenedExecute` (in place of nbgrader's ``Execute``)
  runs the notebook within its bounds, in a contained kernel, with the hidden tests run by
  the in-kernel sentinel, and grades whatever could not run as 0, saying why;
* :class:`course.grading.review.FlagForReview` (after ``SaveAutoGrades``) marks submissions
  that tried to tamper, or that the grader could not verify, for an instructor's review.

One module per concern: :mod:`~course.grading.execute` (the preprocessor and its limits),
:mod:`~course.grading.kernelmanager` and :mod:`~course.grading.kernel_main` (starting the
contained kernel), :mod:`~course.grading.sandbox` (users, folders, environment),
:mod:`~course.grading.processes` (finding, watching and ending processes),
:mod:`~course.grading.landlock` and :mod:`~course.grading.privileges` (Linux controls),
:mod:`~course.grading.sentinel` and :mod:`~course.grading.protocol` (the in-kernel guard),
:mod:`~course.grading.scan` (the static scan of answers),
:mod:`~course.grading.coursefiles` (the course files guard).

Two commands build on them: :mod:`~course.grading.classgrade` (``python3 run.py
autograde``: a whole class, several students at once) and :mod:`~course.grading.selfcheck`
(``python3 run.py check``: a learner's own notebook, in a scratch course).

Importing this package has no side effects and imports none of them.
"""
