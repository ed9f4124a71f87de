"""Which test each worker gets next, so that every CPU stays busy to the end: tests that
mostly wait beside tests that compute, longest first.

The suite's wall time on a few CPUs is bounded below by its CPU work divided among the CPUs,
and by its tail, the time the last long test runs after the others have finished. Many of
its tests mostly wait (a wrong answer waits out a bound; a kernel sleeps in a demonstration),
so the suite runs more test workers than CPUs (tests/conftest.py). Handing out the longest
tests first (with xdist giving one test at a time, ``--maxschedchunk 1``) keeps the tail
short; choosing, for each free worker, a test that computes only where it fits on the CPUs
beside what the other workers run (:class:`CpuAwareScheduling`) keeps the CPUs busy
meanwhile, where longest-first alone started all the long waiting tests at once and left
the CPUs half idle.

What a test took, in seconds and in CPU seconds (its own and its processes'), is what it
took in the last run on this checkout (``.cache/test-durations.json``, written at the end of
each run); on a fresh clone, what it took in the full run recorded with the suite
(``tests/durations.json``, as pytest-split keeps one); for a test in neither, an estimate by
test file.

The browser tests (``tests/e2e``) go last: each starts JupyterLab and Chromium, which would
take CPU from the notebooks whose time budgets the other tests measure, and at the end they
fill the CPUs that the last long tests leave idle.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScheduling

from support.layout import CACHE

DURATIONS = CACHE / "test-durations.json"
RECORDED = Path(__file__).resolve().parents[1] / "durations.json"
BROWSER = "tests/e2e/"

# Seconds a test of each file took on this 2-CPU machine in a full run (a fresh clone of
# 43b5db0, six workers), and the share of them it spent computing: where no recorded
# duration exists yet (a fresh clone).
ESTIMATES = {
    "test_nbgrader_compat.py::test_nbgrader_autograde_tests_pass_with_the_course_grader": (285.0, 0.7),
    # Its five gradings at once, since 6361e92 (a fresh clone of ddc5cf7: 976 s and 397 CPU s in 43 tests).
    "test_determinism.py::test_racy_answers_graded_the_same_every_time": (23.0, 0.4),
    "test_hardening.py::test_attacks": (42.0, 0.43),
    "test_classgrade.py": (50.0, 0.45),
    "test_cluster.py::test_cluster_into_postgresql_with_a_worker_killed_equals_sequential": (70.0, 0.45),
    "test_cluster.py::test_scheduler_lost_mid_run_then_a_second_run_grades_only_the_rest": (60.0, 0.45),
    "test_cluster.py": (10.0, 0.4),
    "test_install.py": (42.0, 0.4),
    "test_hardening.py": (25.0, 0.6),
    "test_autograde.py::test_reference_full_marks_and_blank_zero": (19.0, 0.38),
    "test_answers.py": (9.5, 0.25),
    "test_static.py": (14.0, 0.35),
    "test_selfcheck.py": (20.0, 0.3),
    "test_report.py": (13.0, 0.32),
    "test_kernel_start.py": (13.0, 0.3),
    "test_nbgrader_compat.py": (30.0, 0.35),
}
# A test mostly waits when it computes for less than this share of its seconds. Beside five
# other workers on two CPUs no test gets much more than a third of a CPU: the determinism
# tests measured 0.16 when they graded one copy at a time, the answer corpus 0.25, the
# reference notebooks 0.38.
WAITING = 0.2


def estimate(nodeid: str) -> tuple[float, float]:
    """The estimated (seconds, share computing) of a test by its node id (``tests/test_x.py::test_y[param]``)."""
    path, _, name = nodeid.partition("::")
    file = Path(path).name
    function = name.partition("[")[0]
    return ESTIMATES.get(f"{file}::{function}", ESTIMATES.get(file, (1.0, 0.5)))


def known() -> dict[str, tuple[float, float | None]]:
    """What each test took: in this checkout's last run, or else in the run recorded with the suite."""
    return load(RECORDED) | load(DURATIONS)


def load(path: Path = DURATIONS) -> dict[str, tuple[float, float | None]]:
    """nodeid -> (seconds, CPU seconds or None) as recorded; {} when there is no usable record."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict):
        return {}
    known: dict[str, tuple[float, float | None]] = {}
    for nodeid, value in found.items():
        if isinstance(value, (int, float)):  # recorded before CPU time was
            known[str(nodeid)] = (float(value), None)
        elif isinstance(value, list) and len(value) == 2:
            known[str(nodeid)] = (float(value[0]), None if value[1] is None else float(value[1]))
    return known


def _expected(nodeid: str, known: dict[str, tuple[float, float | None]]) -> tuple[float, float]:
    """(seconds, share of them computing) for a test, as recorded or estimated."""
    guess_seconds, guess_share = estimate(nodeid)
    seconds, cpu = known.get(nodeid, (guess_seconds, None))
    return seconds, guess_share if cpu is None or seconds <= 0 else cpu / seconds


def order(nodeids: Iterable[str], known: dict[str, tuple[float, float | None]]) -> list[str]:
    """The node ids longest expected first, the browser tests last (longest first too): the
    order :class:`CpuAwareScheduling` chooses from. Ties keep their order (a stable sort)."""
    expected = {nodeid: _expected(nodeid, known)[0] for nodeid in nodeids}
    return sorted(expected, key=lambda nodeid: (nodeid.startswith(BROWSER), -expected[nodeid]))


def choose(pending: Sequence[str], running: Iterable[str], known: dict[str, tuple[float, float | None]],
           cpus: int) -> int:
    """The index in ``pending`` (longest first, as :func:`order` gives) of the test to hand
    out next, beside the tests ``running`` on the other workers: the first (longest) test
    that computes if the CPUs can run it beside them (the sum of their shares computing
    stays within the CPUs), else the first that mostly waits; the browser tests only when
    nothing else is left."""
    demand = sum(_expected(nodeid, known)[1] for nodeid in running)
    first_waiting = first_other = None
    for index, nodeid in enumerate(pending):
        if nodeid.startswith(BROWSER):
            continue
        share = _expected(nodeid, known)[1]
        if share >= WAITING:
            if demand == 0 or demand + share <= cpus:
                return index
            if first_other is None:
                first_other = index
        elif first_waiting is None:
            first_waiting = index
    for index in (first_waiting, first_other):
        if index is not None:
            return index
    return 0


class CpuAwareScheduling(LoadScheduling):
    """pytest-xdist's ``--dist load``, handing each worker the test that :func:`choose` picks
    for what the other workers run now, instead of the next in the collection's order.

    A static order cannot do this: the tests' real durations differ from those recorded,
    and early in a run planned from them four of six workers waited while the CPUs were a
    third idle. It subclasses xdist's LoadScheduling and replaces its ``_send_tests``
    (xdist's own scheduling code, pinned to pytest-xdist 3 in requirements.txt), which keeps
    each worker two tests ahead, the one it runs and the next."""

    def __init__(self, config: pytest.Config, log: Any = None, *, cpus: int) -> None:
        super().__init__(config, log)
        self.cpus = cpus
        self.known = known()

    def _send_tests(self, node: Any, num: int) -> None:
        assert self.collection is not None
        for _ in range(num):
            if not self.pending:
                return
            running = [self.collection[queue[0]] for other, queue in self.node2pending.items()
                       if other is not node and queue]
            index = self.pending.pop(choose([self.collection[i] for i in self.pending], running, self.known, self.cpus))
            self.node2pending[node].append(index)
            node.send_runtest_some([index])


def save(measured: dict[str, tuple[float, float | None]], path: Path = DURATIONS) -> None:
    """Add this run's (seconds, CPU seconds) to those recorded (a test not run now keeps its old ones)."""
    known = load(path)
    known.update(measured)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # runs at once each write their own, then replace
    tmp.write_text(json.dumps({nodeid: list(value) for nodeid, value in known.items()}, indent=0, sort_keys=True))
    tmp.replace(path)
