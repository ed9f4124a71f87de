"""What the in-kernel guard's verdicts, and a kernel's death, mean for a cell's outputs and review flags.

Pure functions over a :class:`grader.run_state.Run`: nothing here talks to a kernel, so each
rule can be tested on cells built in memory.
"""

from __future__ import annotations

import contextlib
import json
import signal
from typing import Any

from nbformat import NotebookNode

from grader.run_state import Run, nbgrader_meta
from grader_kernel import protocol

__all__ = ["check_cell", "death", "error_output", "hang", "mark_not_run", "receive_verdict", "signal_name"]


def error_output(ename: str, evalue: str) -> NotebookNode:
    """An error output as a kernel would have sent it (nbgrader scores a test with one 0)."""
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def receive_verdict(run: Run, key: bytes, cell_index: int, data: Any) -> None:
    """Keep a verdict the kernel displayed for the cell at ``cell_index``, if it is the one
    that cell's sealed stub was given (its nonce) and it is signed with the kernel's ``key``."""
    if not isinstance(data, dict):
        return
    nonce, payload, tag = data.get("nonce"), data.get("payload"), data.get("tag")
    if (not isinstance(nonce, str) or nonce != run.expected.get(cell_index) or not isinstance(payload, str)
            or not isinstance(tag, str)):
        return  # a verdict for another cell, or a fake
    # The first verified verdict for a nonce is the sentinel's: a later one is a replay.
    if nonce in run.verdicts or not protocol.verify(key, nonce, payload, tag):
        return
    with contextlib.suppress(ValueError):
        verdict = json.loads(payload)
        if isinstance(verdict, dict):
            run.verdicts[nonce] = verdict


def check_cell(run: Run, cell: NotebookNode, index: int, kind: str, nonce: str | None) -> None:
    """Apply the sentinel's verdict to a sealed cell's outputs and the review flags (and say
    when the cell's output was cut). ``nonce`` is None for a cell that was not sealed."""
    if index in run.output_cut:
        cell.outputs.append(error_output("OutputLimitExceeded", (
            f"this cell printed more than the notebook may keep ({run.limits.output_bytes // 1024} kB); "
            "the rest was cut and the cell interrupted")))
    if nonce is None:
        return
    grade_id = nbgrader_meta(cell).get("grade_id", f"cell {index + 1}")
    verdict = run.verdicts.pop(nonce, None)
    if verdict is None:
        if kind == "test":
            cell.outputs.append(error_output("GradingIntegrityError", (
                "the grader could not confirm that this test ran as written (no verdict from its in-kernel "
                "guard: something in the notebook intercepted it); it scores 0")))
        run.flag(grade_id, f"{grade_id}: no verified verdict (the cell was intercepted)")
        return
    outcome = verdict.get("outcome")
    for change in verdict.get("before", []) + [f"refused: {r}" for r in verdict.get("refused_before", [])]:
        run.flag(grade_id, f"before {grade_id}: {change} (undone before the cell ran)")
    refused = [f"refused: {r}" for r in verdict.get("refused", [])]
    during = verdict.get("during", []) + refused
    if outcome in ("rejected", "error"):
        cell.outputs.append(error_output("GradingIntegrityError",
                                         f"the grader's guard failed: {verdict.get('reason')}"))
        run.flag(grade_id, f"{grade_id}: {verdict.get('reason')}")
        return
    if kind != "test":
        for change in during:
            run.flag(grade_id, f"while {grade_id} ran: {change}")
        return
    for refusal in refused:  # an attempt, even when the test failed anyway
        run.flag(grade_id, f"while {grade_id} ran: {refusal}")
    if during and outcome == "passed":
        # (A test that failed scores 0 anyway, and may have failed half-way through
        # patching something; what changed is undone either way.)
        cell.outputs.append(error_output("GradingIntegrityError", (
            "while this test ran, the code it called changed what the test relies on ("
            + "; ".join(during[:5]) + "); the test scores 0")))
        for change in during:
            run.flag(grade_id, f"while {grade_id} ran: {change}")
    if outcome == "did not run":
        cell.outputs.append(error_output("GradingIntegrityError", (
            "this test did not run: something in the notebook kept the grader's copy of it from running; "
            "it scores 0")))
        run.flag(grade_id, f"{grade_id}: the test did not run (its stub was altered)")
    elif outcome != "passed" and not any(out.output_type == "error" for out in cell.outputs):
        cell.outputs.append(error_output(str(verdict.get("ename", "TestFailed")), str(verdict.get("evalue", ""))))


def signal_name(code: int) -> str:
    """``SIGKILL`` for 9; ``signal 99`` for a number no signal has."""
    try:
        return signal.Signals(code).name
    except ValueError:
        return f"signal {code}"


def death(violation: str | None, exit_code: int | None) -> tuple[str, str]:
    """(ename, evalue) of the error output for the cell a kernel stopped in: the watchdog's
    ``violation`` if it ended the kernel, else what the kernel's ``exit_code`` (a negative
    signal number, as ``Popen.poll`` gives it, or None if unknown) says."""
    if violation:
        return ("GradingLimitExceeded", f"{violation}; they were all ended, and the kernel restarted")
    if exit_code is None:
        how = "the kernel stopped"
    elif exit_code < 0:
        name = signal_name(-exit_code)
        how = f"the kernel was killed by {name}" + {
            "SIGSEGV": " (a crash)", "SIGKILL": " (perhaps it ran out of memory)", "SIGABRT": " (an abort)",
            "SIGXFSZ": " (a file grew too large)"}.get(name, "")
    else:
        how = f"the kernel exited with status {exit_code} (os._exit or sys.exit in the kernel itself)"
    return ("KernelDied", f"{how} while running this cell; it was restarted")


def hang(seconds: float) -> tuple[str, str]:
    """(ename, evalue) of the error output for a cell that ran past its ``seconds`` and did not stop."""
    return ("CellTimeoutError", f"this cell ran for more than {seconds:g} s and did not stop "
                                "when interrupted; the kernel was restarted")


def mark_not_run(run: Run, cells: list[NotebookNode], start: int, why: str) -> None:
    """Give the code cells from ``start`` on an error output that says ``why`` they were not
    run (so their tests score 0), and a note that counts them."""
    skipped = [i for i in range(start, len(cells)) if run.kinds[i] in ("test", "locked", "answer", "other")
               and cells[i].source.strip()]
    for i in skipped:
        cells[i].outputs = [error_output("CellNotRun", f"This cell was not run: {why}.")]
    if skipped:
        run.notes.append(f"{len(skipped)} cell(s) were not run: {why}. Tests among them score 0.")
