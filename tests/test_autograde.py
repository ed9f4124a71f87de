"""Each assignment, on every Python and start method: the source notebook runs cleanly and
in time, autograding it as a submission gives full marks, and the untouched release gives 0.

The untouched release is graded once on each Python (support.grades_blank): whole on the
Python and start method of the answer corpus (the default a grader gets), and without its
demonstrations on the others: its score is the hidden tests' verdict on the unanswered
stubs, and its demonstrations (which cost as much CPU as the reference's) only run on to
the first stub they call.
"""

from __future__ import annotations

import os
from unittest import mock

import nbformat.v4 as v4
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

import support


@pytest.mark.reference_matrix  # the Pythons and start methods of support.reference_runs
def test_reference_full_marks_and_blank_zero(assignment, python_minor, start_method, kernel_factory, course_factory,
                                             tmp_path):
    kernel = kernel_factory(python_minor, start_method)
    course = course_factory(assignment, tmp_path / "course")
    course.submit(assignment, "reference", support.read(support.source_notebook(assignment)))
    blank = support.grades_blank(assignment, start_method)
    if blank:
        blank_notebook = support.read(support.release_notebook(assignment))
        if (python_minor, start_method) != (support.ANSWERS_PYTHONS[0], support.ANSWERS_METHODS[0]):
            blank_notebook = support.without_demonstrations(blank_notebook)
        course.submit(assignment, "blank", blank_notebook)
    course.autograde(assignment, kernel)

    # The source notebook, run top to bottom by the grader: no errors, in time.
    graded = course.autograded(assignment, "reference")
    version = graded.metadata.language_info.version
    assert version.startswith(f"{python_minor}."), f"the kernel ran Python {version}; expected {python_minor}"
    assert support.error_outputs(graded.cells) == [], (
        "the source notebook raised errors when run top to bottom:\n" + support.error_tracebacks(graded.cells))
    # The cells' span by the kernel's timestamps, which read the wall clock; that clock was
    # seen to step forward 24 s during a run. The grader's own time for the whole notebook
    # (a monotonic clock, kernel start included) bounds the span from above. The budget is on
    # the notebook's own time: less what a busy machine held it back (grader.cell_clock).
    report = graded.metadata.get("course_grading")
    assert report is not None, "the graded notebook has no report from grader: was the hardened grader used?"
    seconds = min(support.execution_seconds(graded), report["seconds"]) - report["busy_seconds"]
    assert seconds <= support.NOTEBOOK_SECONDS, (
        f"the source notebook took {seconds:.1f} s to run, not counting {report['busy_seconds']:.1f} s "
        f"held back by a busy machine; the budget is {support.NOTEBOOK_SECONDS:.0f} s")
    noisy = {cell.metadata.nbgrader["grade_id"]: support.stderr_of(cell) for cell in support.test_cells(graded)
             if support.stderr_of(cell)}
    assert noisy == {}, "test cells of the reference answers wrote to stderr (nbgrader scores that 0)"

    # The course's hardened grader ran it (nbgrader_config.py), and found nothing to report.
    assert report["flags"] == {} and report["notes"] == [], f"the grader flagged or noted the reference: {report}"

    # Only the test cells are graded automatically; a manually graded answer scores 0 until
    # an instructor grades it.
    autograded = {cell.metadata.nbgrader["grade_id"] for cell in support.test_cells(graded)}
    reference = course.scores(assignment, "reference")
    lost = {cell: score for cell, score in reference.items() if cell in autograded and score[0] != score[1]}
    assert lost == {}, f"the reference answers lost points: {lost}"

    shown = "blank not graded in this run"
    if blank:
        blank_scores = course.scores(assignment, "blank")
        for exercise, tests in support.exercises(graded).items():
            earned = sum(blank_scores[test][0] for test in tests)
            assert earned == 0, f"the untouched release notebook earned {earned} points on {exercise}; expected 0"
        shown = f"blank {sum(s for s, _ in blank_scores.values()):g}"
    print(f"{assignment} on Python {python_minor} with {start_method}: ran in {seconds:.1f} s; "
          f"reference {sum(reference[c][0] for c in autograded):g}/{sum(reference[c][1] for c in autograded):g} "
          f"on the autograded cells, {shown}")


def test_kernels_run_the_python_and_start_method_they_claim(python_minor, start_method, kernel_factory, tmp_path):
    """The matrix above is only as good as its kernels: check what one reports about itself."""
    kernel = kernel_factory(python_minor, start_method)
    probe = "import multiprocessing, sys\nprint(multiprocessing.get_start_method(), '%d.%d' % sys.version_info[:2])"
    nb = v4.new_notebook(cells=[v4.new_code_cell(probe)])
    with mock.patch.dict(os.environ, kernel.env(), clear=True):
        # Unix sockets, not TCP ports, which kernels of the other tests pick at the same time:
        # unlike the grader, nbclient does not retry a kernel whose port was taken.
        km = KernelManager(kernel_name="python3", transport="ipc", ip=str(tmp_path / "kernel"))
        NotebookClient(nb, km=km, timeout=60, resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert nb.cells[0].outputs[0].text.split() == [start_method, python_minor]
