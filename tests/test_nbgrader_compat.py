"""nbgrader's behaviour with the course's grader: nbgrader's own autograde tests, and the
divergences kept on purpose (README "Grading safely")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import nbformat
from nbformat import v4

import support

# nbgrader's tests (nbgrader.tests.apps.test_nbgrader_autograde, 0.9.6) that fail with the
# course's settings on purpose, with the reason; README "Grading safely" names each, and a
# test below covers the behaviour the course keeps instead.
KEPT_DIVERGENCES = {
    # A submission with nbgrader cells the gradebook does not know: nbgrader stops with
    # "Notebook failed to validate" and leaves it ungraded; the course grades it, those
    # cells as ordinary ones (grader.sanitize.RestoreGradedCells).
    "test_handle_failure": "unknown nbgrader cells are ordinary cells",
    "test_handle_failure_single_notebook": "unknown nbgrader cells are ordinary cells",
    # A kernelspec this machine lacks: nbgrader stops with an error and leaves the submission
    # ungraded; the course tries the kernel again, then grades it 0, flagged, with a note
    # (grader.execute.HardenedExecute.start_attempts; tests/test_kernel_start.py).
    "test_incorrect_source_kernelspec": "a kernel that cannot start grades the submission 0 with a note",
    "test_missing_source_kernelspec": "a kernel that cannot start grades the submission 0 with a note",
}
# They compare two graded notebooks byte for byte; the course's carry the grading's
# measurements (seconds, peak processes and memory, the kernel's user) in their metadata, so
# they fail whenever two gradings measured differently: nearly always, but not always (two
# tiny notebooks can take the same hundredths of a second on the same user id). Either
# outcome is accepted; test_regrading_keeps_nbgraders_files_and_other_notebooks checks what
# they check besides.
MEASUREMENT_DIVERGENCES = {"test_force_single_notebook", "test_update_newer_single_notebook"}
NBGRADER_TESTS = 40  # run, not skipped, in nbgrader 0.9.6's test_nbgrader_autograde
# About 140 s on a shared 2-CPU machine (plain nbgrader takes as long); the bound only
# catches a hang, so it leaves room for a machine several times slower.
SUITE_TIMEOUT = 900
VENV_BIN = Path(sys.executable).parent


def _nbgrader_env() -> dict[str, str]:
    env = dict(os.environ)
    # nbgrader's gradebook runs `alembic` from PATH; its tests import the plugin from tests/.
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join([str(support.ROOT / "tests"), str(support.ROOT)])
    for name in [name for name in env if name.startswith(("PYTEST_", "NBGRADER_"))]:
        del env[name]
    return env


def test_nbgrader_autograde_tests_pass_with_the_course_grader(tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider", "-p", "nbgrader_course_settings",
         f"--junitxml={report}", "--pyargs", "nbgrader.tests.apps.test_nbgrader_autograde"],
        cwd=tmp_path, env=_nbgrader_env(), capture_output=True, text=True, timeout=SUITE_TIMEOUT, check=False)
    assert report.is_file(), f"nbgrader's tests did not run:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    outcomes: dict[str, str] = {}
    graded = 0
    for case in ET.parse(report).iter("testcase"):
        name = case.get("name", "")
        outcome = ("failed" if case.find("failure") is not None or case.find("error") is not None
                   else "skipped" if case.find("skipped") is not None else "passed")
        outcomes[name] = outcome
        graded += sum(int(p.get("value", "0")) for p in case.iter("property") if p.get("name") == "hardened_notebooks")
    ran = {name: outcome for name, outcome in outcomes.items() if outcome != "skipped"}
    assert len(ran) == NBGRADER_TESTS, f"expected {NBGRADER_TESTS} of nbgrader's tests to run: {sorted(ran)}"
    # The course's settings were in force: the hardened grader ran the tests' notebooks.
    assert graded >= 50, f"the hardened grader ran only {graded} notebooks: were the course's settings loaded?"
    failed = {name for name, outcome in ran.items() if outcome == "failed"} - MEASUREMENT_DIVERGENCES
    unexpected = failed - set(KEPT_DIVERGENCES)
    assert not unexpected, f"nbgrader behaviour broken by the grader: {sorted(unexpected)}\n{result.stdout[-6000:]}"
    # The list stays honest: a divergence that no longer shows is taken off it.
    assert failed == set(KEPT_DIVERGENCES), f"no longer diverging: {sorted(set(KEPT_DIVERGENCES) - failed)}"


# --- the behaviour kept, on a small course ------------------------------------------------------------


def _notebook(minor: int) -> nbformat.NotebookNode:
    """Two exercises of an older nbformat minor version (no cell ids), one test printing
    what nbgrader's environment says."""
    def cell(source: str, grade_id: str, **flags: object) -> nbformat.NotebookNode:
        made = v4.new_code_cell(source)
        made.metadata["nbgrader"] = {"grade_id": grade_id, "schema_version": 3, "locked": False,
                                     "solution": False, "grade": False, **flags}
        return made

    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.cells = [
        cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION", "double", solution=True),
        cell('import os\nprint("NBGRADER_EXECUTION =", os.environ.get("NBGRADER_EXECUTION"))\nassert double(2) == 4',
             "test_double", grade=True, locked=True, points=1),
        cell('assert double(3) == 6', "test_double_more", grade=True, locked=True, points=1),
    ]
    nb.nbformat_minor = minor
    for made in nb.cells:
        made.pop("id", None)
    nbformat.validate(nb)
    return nb


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Two notebooks of a few cells grade in about 10 s; the bound only catches a hang.
    result = subprocess.run([str(VENV_BIN / "nbgrader"), *args], cwd=course, env=_nbgrader_env(),
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, (
        f"nbgrader {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


def test_regrading_keeps_nbgraders_files_and_other_notebooks(tmp_path: Path) -> None:
    course = tmp_path / "course"
    source = course / "source" / "ps1"
    source.mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\nc.CourseDirectory.db_url = "
        f"{'sqlite:///' + str(course / 'gradebook.db')!r}\nfrom grader.config import configure\nconfigure(c)\n")
    for name in ("p1", "p2"):
        nbformat.write(_notebook(4), source / f"{name}.ipynb")
    (source / "data.txt").write_text("the course's data\n")
    _nbgrader(course, "db", "assignment", "add", "ps1")
    _nbgrader(course, "db", "student", "add", "foo")
    _nbgrader(course, "generate_assignment", "ps1")
    submitted = course / "submitted" / "foo" / "ps1"
    shutil.copytree(course / "release" / "ps1", submitted)
    (submitted / "timestamp.txt").write_text("2015-02-02 15:58:23.948203 UTC")
    (submitted / "notes.txt").write_text("a file of the student's\n")
    (submitted / "course.py").write_text("raise SystemExit('a submitted module shadowing the course package')\n")
    (submitted / "pkg").mkdir()
    (submitted / "pkg" / "helper.cpython-311-x86_64-linux-gnu.so").write_bytes(b"not a library")
    p2 = nbformat.read(submitted / "p2.ipynb", as_version=4)
    p2.cells = [cell for cell in p2.cells if cell.metadata.get("nbgrader", {}).get("grade_id") != "test_double_more"]
    nbformat.write(p2, submitted / "p2.ipynb")  # the grader puts the deleted test back

    _nbgrader(course, "autograde", "ps1")
    graded = course / "autograded" / "foo" / "ps1"
    assert (graded / "timestamp.txt").read_text() == "2015-02-02 15:58:23.948203 UTC"
    assert (graded / "notes.txt").is_file(), "a file that cannot be imported was removed"
    assert (graded / "data.txt").read_text() == "the course's data\n"
    assert not (graded / "course.py").exists()
    assert not (graded / "pkg" / "helper.cpython-311-x86_64-linux-gnu.so").exists()
    for name in ("p1", "p2"):
        nb = nbformat.read(graded / f"{name}.ipynb", as_version=nbformat.NO_CONVERT)
        nbformat.validate(nb)  # a 4.4 notebook: no cell ids added by the grader
        assert (nb.nbformat, nb.nbformat_minor) == (4, 4), name
        assert not any("id" in cell for cell in nb.cells), name
        if name == "p1":  # graded first, it gets the note that course.py and helper...so were not used
            assert nb.cells[0].metadata.get("course_grading"), "no Grading notes about the removed modules"
        # Kept divergence: the grading's measurements are in the graded notebook.
        assert {"seconds", "busy_seconds", "peak_tasks", "peak_mb", "kernel_uid"} <= set(
            nb.metadata["course_grading"]), name
        printed = "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)
        assert "NBGRADER_EXECUTION = autograde" in printed, f"{name}: {printed!r}"

    other = (graded / "p2.ipynb").read_bytes()
    _nbgrader(course, "autograde", "ps1", "--notebook", "p1", "--force")
    assert (graded / "p2.ipynb").read_bytes() == other, "regrading p1 changed p2's graded notebook"
    assert (graded / "p1.ipynb").is_file() and (graded / "timestamp.txt").is_file()


def test_unknown_nbgrader_cells_are_graded_as_ordinary_cells() -> None:
    """Kept divergence: nbgrader drops such a submission ("Notebook failed to validate")."""
    from grader.sanitize import RestoreGradedCells

    nb = _notebook(4)
    nb.cells[0].metadata["nbgrader"]["grade_id"] = "not_in_the_gradebook"
    del nb.cells[2]
    sources = {"double": SimpleNamespace(cell_type="code", source="def double(x): ...", locked=False),
               "test_double": SimpleNamespace(cell_type="code", source="assert double(2) == 4", locked=True),
               "test_double_more": SimpleNamespace(cell_type="code", source="assert double(3) == 6", locked=True)}
    grades = {"test_double": SimpleNamespace(max_score=1), "test_double_more": SimpleNamespace(max_score=1)}
    RestoreGradedCells()._restore(nb, sources, list(sources), grades, {"double"}, {})
    assert "nbgrader" not in nb.cells[0].metadata, "a cell the gradebook does not know kept its nbgrader metadata"
    assert [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in nb.cells] == [
        None, "test_double", "test_double_more"]
    assert "id" not in nb.cells[2], "a cell id in a 4.4 notebook"
    nbformat.validate(nb)
