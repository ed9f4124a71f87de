"""What the grader makes of verdicts, kernel deaths and submitted files, without a kernel:
grader.verdicts, grader.submission and grader.notes on cells built with nbformat.v4."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from grader import verdicts
from grader.notes import notes_cell, write_report
from grader.processes import Usage
from grader.run_state import Run, cell_kind
from grader.sandbox import Limits
from grader.submission import give_back, gradebook_path, hold, remove_extra_files, remove_new_files, shadows_imports
from grader_kernel import protocol

KEY = protocol.new_key()


def _test_cell(grade_id: str = "test_double", source: str = "assert double(2) == 4") -> NotebookNode:
    cell = new_code_cell(source)
    cell.metadata.nbgrader = {"grade_id": grade_id, "grade": True, "solution": False, "locked": True,
                              "points": 1, "schema_version": 3}
    return cell


def _locked_cell(grade_id: str = "helpers") -> NotebookNode:
    cell = new_code_cell("def check(a, b):\n    assert a == b")
    cell.metadata.nbgrader = {"grade_id": grade_id, "grade": False, "solution": False, "locked": True,
                              "schema_version": 3}
    return cell


def _run(cells: list[NotebookNode], output_kb: int = 4096) -> Run:
    limits = Limits(total_seconds=60, cell_seconds=30, answer_seconds=10, max_tasks=64,
                    memory_bytes=2**30, output_bytes=output_kb * 1024, file_bytes=2**20)
    return Run(limits=limits, deadline=time.monotonic() + 60,
               kinds=[cell_kind(cell) if cell.cell_type == "code" else "markdown" for cell in cells])


def _signed(nonce: str, verdict: dict[str, Any], key: bytes = KEY) -> dict[str, str]:
    """What the sentinel displays for a verdict (the data of its display_data message)."""
    payload = json.dumps(verdict)
    return {"nonce": nonce, "payload": payload, "tag": protocol.sign(key, nonce, payload)}


def _verdict(run: Run, index: int, verdict: dict[str, Any]) -> str:
    """Expect a verdict for the cell at ``index`` and receive a genuine one; its nonce."""
    nonce = protocol.new_nonce()
    run.expected[index] = nonce
    verdicts.receive_verdict(run, KEY, index, _signed(nonce, verdict))
    return nonce


def _errors(cell: NotebookNode) -> list[tuple[str, str]]:
    return [(out.ename, out.evalue) for out in cell.outputs if out.output_type == "error"]


# --- applying verdicts ------------------------------------------------------------------------------


def test_a_test_without_a_verdict_scores_0_and_is_flagged():
    cell = _test_cell()
    run = _run([cell])
    verdicts.check_cell(run, cell, 0, "test", protocol.new_nonce())
    [(ename, evalue)] = _errors(cell)
    assert ename == "GradingIntegrityError" and "it scores 0" in evalue
    assert run.flags == {"test_double": ["test_double: no verified verdict (the cell was intercepted)"]}


def test_a_locked_helper_without_a_verdict_is_flagged_but_gets_no_error():
    cell = _locked_cell()
    run = _run([cell])
    verdicts.check_cell(run, cell, 0, "locked", protocol.new_nonce())
    assert _errors(cell) == []
    assert list(run.flags) == ["helpers"]


def test_a_passing_test_with_a_verdict_stays_as_it_is():
    cell = _test_cell()
    run = _run([cell])
    nonce = _verdict(run, 0, {"outcome": "passed"})
    verdicts.check_cell(run, cell, 0, "test", nonce)
    assert cell.outputs == [] and run.flags == {}
    assert run.verdicts == {}, "a verdict is used once"


def test_changes_while_a_passing_test_ran_make_it_an_error():
    cell = _test_cell()
    run = _run([cell])
    nonce = _verdict(run, 0, {"outcome": "passed", "during": ["course.checks.check was replaced"],
                              "refused": ["open the gradebook"]})
    verdicts.check_cell(run, cell, 0, "test", nonce)
    [(ename, evalue)] = _errors(cell)
    assert ename == "GradingIntegrityError"
    assert "course.checks.check was replaced; refused: open the gradebook" in evalue and "scores 0" in evalue
    assert set(run.flags["test_double"]) == {"while test_double ran: course.checks.check was replaced",
                                             "while test_double ran: refused: open the gradebook"}


def test_changes_before_a_test_are_flagged_only():
    cell = _test_cell()
    run = _run([cell])
    nonce = _verdict(run, 0, {"outcome": "passed", "before": ["sys.excepthook was replaced"]})
    verdicts.check_cell(run, cell, 0, "test", nonce)
    assert _errors(cell) == []
    assert run.flags == {"test_double": ["before test_double: sys.excepthook was replaced (undone before the "
                                         "cell ran)"]}


def test_a_test_that_did_not_run_scores_0_and_is_flagged():
    cell = _test_cell()
    run = _run([cell])
    nonce = _verdict(run, 0, {"outcome": "did not run"})
    verdicts.check_cell(run, cell, 0, "test", nonce)
    [(ename, evalue)] = _errors(cell)
    assert ename == "GradingIntegrityError" and evalue.startswith("this test did not run")
    assert run.flags == {"test_double": ["test_double: the test did not run (its stub was altered)"]}


def test_a_failed_test_gets_its_error_once():
    cell = _test_cell()
    run = _run([cell])
    nonce = _verdict(run, 0, {"outcome": "failed", "ename": "AssertionError", "evalue": "3 != 4"})
    verdicts.check_cell(run, cell, 0, "test", nonce)
    assert _errors(cell) == [("AssertionError", "3 != 4")]
    shown = _test_cell()
    shown.outputs.append(new_output("error", ename="AssertionError", evalue="3 != 4", traceback=[]))
    nonce = _verdict(run, 0, {"outcome": "failed", "ename": "AssertionError", "evalue": "3 != 4"})
    verdicts.check_cell(run, shown, 0, "test", nonce)
    assert len(_errors(shown)) == 1, "the kernel's own error output is enough"
    assert run.flags == {}


def test_a_guard_that_failed_is_an_error_and_a_flag():
    cell = _test_cell()
    run = _run([cell])
    nonce = _verdict(run, 0, {"outcome": "rejected", "reason": "the snapshot was altered"})
    verdicts.check_cell(run, cell, 0, "test", nonce)
    assert _errors(cell) == [("GradingIntegrityError", "the grader's guard failed: the snapshot was altered")]
    assert run.flags == {"test_double": ["test_double: the snapshot was altered"]}


def test_cut_output_is_said_even_for_an_unsealed_cell():
    cell = new_code_cell("print('x' * 10**7)")
    run = _run([cell], output_kb=64)
    run.output_cut.add(0)
    verdicts.check_cell(run, cell, 0, "answer", None)
    [(ename, evalue)] = _errors(cell)
    assert ename == "OutputLimitExceeded" and "(64 kB)" in evalue


# --- receiving verdicts -------------------------------------------------------------------------------


def test_a_verified_verdict_for_another_cells_nonce_is_ignored():
    cells = [_test_cell("test_a"), _test_cell("test_b")]
    run = _run(cells)
    mine, theirs = protocol.new_nonce(), protocol.new_nonce()
    run.expected = {0: mine, 1: theirs}
    verdicts.receive_verdict(run, KEY, 0, _signed(theirs, {"outcome": "passed"}))
    assert run.verdicts == {}
    verdicts.check_cell(run, cells[0], 0, "test", mine)
    assert _errors(cells[0])[0][0] == "GradingIntegrityError"


@pytest.mark.parametrize("forge", ["bad tag", "other key", "not text", "not a dict", "not json"])
def test_a_verdict_that_does_not_verify_is_ignored(forge):
    run = _run([_test_cell()])
    nonce = protocol.new_nonce()
    run.expected[0] = nonce
    data: Any = _signed(nonce, {"outcome": "passed"})
    if forge == "bad tag":
        data["tag"] = "0" * len(data["tag"])
    elif forge == "other key":
        data = _signed(nonce, {"outcome": "passed"}, key=protocol.new_key())
    elif forge == "not text":
        data["tag"] = None
    elif forge == "not a dict":
        data = [nonce, data["payload"], data["tag"]]
    else:
        data["payload"] = "{not json"
        data["tag"] = protocol.sign(KEY, nonce, data["payload"])
    verdicts.receive_verdict(run, KEY, 0, data)
    assert run.verdicts == {}


def test_only_the_first_verdict_for_a_nonce_counts():
    run = _run([_test_cell()])
    nonce = _verdict(run, 0, {"outcome": "failed", "ename": "AssertionError", "evalue": ""})
    verdicts.receive_verdict(run, KEY, 0, _signed(nonce, {"outcome": "passed"}))
    assert run.verdicts == {nonce: {"outcome": "failed", "ename": "AssertionError", "evalue": ""}}


# --- deaths, hangs and cells not run -----------------------------------------------------------------


@pytest.mark.parametrize(("violation", "code", "expected"), [
    ("more than 64 processes and threads", -9, ("GradingLimitExceeded", "more than 64 processes and threads; they "
                                                                         "were all ended, and the kernel restarted")),
    (None, -9, ("KernelDied", "the kernel was killed by SIGKILL (perhaps it ran out of memory) while running this "
                              "cell; it was restarted")),
    (None, -11, ("KernelDied", "the kernel was killed by SIGSEGV (a crash) while running this cell; it was "
                               "restarted")),
    (None, -99, ("KernelDied", "the kernel was killed by signal 99 while running this cell; it was restarted")),
    (None, 3, ("KernelDied", "the kernel exited with status 3 (os._exit or sys.exit in the kernel itself) while "
                             "running this cell; it was restarted")),
    (None, None, ("KernelDied", "the kernel stopped while running this cell; it was restarted")),
])
def test_death_says_why_the_kernel_stopped(violation, code, expected):
    assert verdicts.death(violation, code) == expected


def test_hang_says_how_long():
    assert verdicts.hang(12.0) == ("CellTimeoutError", "this cell ran for more than 12 s and did not stop when "
                                                       "interrupted; the kernel was restarted")


def test_cells_not_run_get_an_error_and_a_note():
    cells = [new_markdown_cell("# Title"), _test_cell("test_a"), new_code_cell("   "), _test_cell("test_b"),
             new_markdown_cell("end")]
    run = _run(cells)
    verdicts.mark_not_run(run, cells, 1, "the notebook's time ran out")
    assert _errors(cells[1]) == _errors(cells[3]) == [("CellNotRun", "This cell was not run: the notebook's time "
                                                                     "ran out.")]
    assert cells[2].outputs == [] and "outputs" not in cells[4]
    assert run.notes == ["2 cell(s) were not run: the notebook's time ran out. Tests among them score 0."]


# --- the submission folder ------------------------------------------------------------------------------


def _write(root: Path, *relatives: str) -> None:
    for relative in relatives:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(relative)


def test_remove_extra_files_removes_submitted_modules_only(tmp_path):
    source, submission = tmp_path / "source" / "ps1", tmp_path / "autograded" / "alice" / "ps1"
    _write(source, "ps1.ipynb", "helpers.py", "data/input.csv")
    _write(submission, "ps1.ipynb", "timestamp.txt", "helpers.py", "data/input.csv", "notes.txt", "extra.py",
           "course.py", "multiprocessing/__init__.py", "fast.cpython-311-x86_64-linux-gnu.SO", "pkg/mod.pyc")
    removed = remove_extra_files(submission, source, ["extra.py"])
    assert removed == ["course.py", "fast.cpython-311-x86_64-linux-gnu.SO", "multiprocessing/__init__.py",
                       "pkg/mod.pyc"]
    left = sorted(p.relative_to(submission).as_posix() for p in submission.rglob("*") if p.is_file())
    assert left == ["data/input.csv", "extra.py", "helpers.py", "notes.txt", "ps1.ipynb", "timestamp.txt"]
    assert remove_extra_files(tmp_path / "missing", source) == []


def test_shadows_imports():
    assert shadows_imports("course.py") and shadows_imports("multiprocessing/__init__.py")
    assert shadows_imports("x.PYD") and not shadows_imports("data.csv") and not shadows_imports("py")


def test_remove_new_files_keeps_what_was_there(tmp_path):
    _write(tmp_path, "kept.txt", "old/kept.txt")
    initial = {p.relative_to(tmp_path) for p in tmp_path.rglob("*")}
    _write(tmp_path, "new.txt", "old/new.txt", "new/deep/file.bin")
    remove_new_files(tmp_path, initial)
    assert {p.relative_to(tmp_path) for p in tmp_path.rglob("*")} == initial


def test_hold_and_give_back_round_trip(tmp_path):
    _write(tmp_path, "ps1.ipynb", "other.ipynb", "timestamp.txt", "data.csv")
    held = hold(tmp_path, "ps1")
    assert held is not None and sorted(p.name for p in held.iterdir()) == ["other.ipynb", "timestamp.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "ps1.ipynb"]
    (tmp_path / "timestamp.txt").mkdir()  # the notebook wrote something in its place
    (tmp_path / "other.ipynb").write_text("overwritten")
    give_back(held, tmp_path)
    assert not held.exists()
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {
        "ps1.ipynb": "ps1.ipynb", "other.ipynb": "other.ipynb", "timestamp.txt": "timestamp.txt",
        "data.csv": "data.csv"}
    (tmp_path / "empty").mkdir()
    assert hold(tmp_path / "empty", "ps1") is None, "nothing to hold"
    give_back(None, tmp_path)


def test_gradebook_path(tmp_path):
    assert gradebook_path(f"sqlite:///{tmp_path}/gradebook.db") == tmp_path.resolve() / "gradebook.db"
    assert gradebook_path("postgresql://grader@localhost/gradebook") is None


# --- the report -----------------------------------------------------------------------------------------


def test_write_report_notes_flags_and_restarts():
    nb = new_notebook(cells=[_test_cell()])
    run = _run(nb.cells)
    run.restarts = 1
    run.flag("test_double", "test_double: no verified verdict")
    run.flag("test_double", "test_double: no verified verdict")
    resources: dict[str, Any] = {}
    write_report(run, nb, resources, seconds=1.234, peak=Usage(processes=2, tasks=5, rss_bytes=3 * 2**20),
                 kernel_uid=None, busy_seconds=0.456)
    report = resources["course_grading"]
    assert report["flags"] == {"test_double": ["test_double: no verified verdict"]}
    assert (report["seconds"], report["busy_seconds"], report["restarts"], report["peak_tasks"],
            report["peak_mb"]) == (1.23, 0.46, 1, 5, 3)
    assert report["notes"][0].startswith("The kernel was restarted 1 time(s)")
    assert report["notes"][1].startswith("This submission is flagged for an instructor's review")
    assert nb.metadata["course_grading"] == report
    assert nb.cells[0].metadata["course_grading"] is True and "**Grading notes**" in nb.cells[0].source


def test_a_clean_run_adds_no_notes_cell():
    nb = new_notebook(cells=[_test_cell()])
    run = _run(nb.cells)
    write_report(run, nb, {}, seconds=0.5, peak=Usage(), kernel_uid=2_000_000_001)
    assert len(nb.cells) == 1 and nb.metadata["course_grading"]["kernel_uid"] == 2_000_000_001
    assert notes_cell(nb, ["one", "two"]).source.endswith("* one\n* two")
