"""The order that keeps every CPU busy to the end: tests that mostly wait beside tests that
compute, longest first.

The suite's wall time on a few CPUs is bounded below by its CPU work divided among the CPUs,
and by its tail, the time the last long test runs after the others have finished. Many of
its tests mostly wait (a wrong answer waits out a bound; a kernel sleeps in a demonstration),
so the suite runs more test workers than CPUs (tests/conftest.py). Handing out the longest
tests first (with xdist giving one test at a time, ``--maxschedchunk 1``) keeps the tail
short; drawing them evenly, by seconds, from those that mostly wait and those that compute
keeps the CPUs busy meanwhile, where longest-first alone started all the long waiting tests
at once and left the CPUs half idle.

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
from collections.abc import Iterable
from pathlib import Path

from support.layout import CACHE

DURATIONS = CACHE / "test-durations.json"
RECORDED = Path(__file__).resolve().parents[1] / "durations.json"
BROWSER = "tests/e2e/"

# Seconds a test of each file took on this 2-CPU machine in a full run (a fresh clone of
# 43b5db0, six workers), and the share of them it spent computing: where no recorded
# duration exists yet (a fresh clone).
ESTIMATES = {
    "test_nbgrader_compat.py::test_nbgrader_autograde_tests_pass_with_the_course_grader": (285.0, 0.7),
    "test_determinism.py::test_racy_answers_graded_the_same_every_time": (66.0, 0.16),
    "test_hardening.py::test_attacks": (42.0, 0.43),
    "test_classgrade.py": (50.0, 0.45),
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
# tests measured 0.16, the answer corpus 0.25, the reference notebooks 0.38.
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


def order(nodeids: Iterable[str], known: dict[str, tuple[float, float | None]], workers: int = 6,
          cpus: int = 2) -> list[str]:
    """The node ids in the order that keeps ``cpus`` CPUs busy with ``workers`` test workers.

    The order plays the run out with the expected seconds, as pytest-xdist hands it out with
    ``--maxschedchunk 1``: each worker holds the test it runs and the next one (a worker
    needs to know its next test before it runs one), so a test is chosen one test ahead, when
    the worker it will run on starts the test before it; the first two tests of the order go
    to the first worker, the next two to the second, and so on. Each choice is the longest
    test left that computes if the CPUs can run it beside the tests planned for when it
    starts (the sum of their shares computing stays within the CPUs), else the longest test
    left that mostly waits. (Drawing the seconds of each kind evenly left the long waiting
    tests on four of six workers early on, and the CPUs a third idle.) The browser tests come
    last, longest first. Ties keep their order (a stable sort)."""
    expected = {nodeid: _expected(nodeid, known) for nodeid in nodeids}
    by_length = sorted(expected, key=lambda nodeid: -expected[nodeid][0])
    browser = [nodeid for nodeid in by_length if nodeid.startswith(BROWSER)]
    by_length = [nodeid for nodeid in by_length if not nodeid.startswith(BROWSER)]
    waiting = [n for n in by_length if expected[n][1] < WAITING]
    computing = [n for n in by_length if expected[n][1] >= WAITING]
    planned: list[tuple[float, float, float]] = []  # (start, end, share computing) of each test chosen

    def choose(start: float) -> tuple[str, float] | None:
        """The test to start at ``start`` and its end, planned; None when none is left."""
        if not (waiting or computing):
            return None
        demand = sum(share for begin, end, share in planned if begin <= start < end)
        fits = computing and (demand == 0 or demand + expected[computing[0]][1] <= cpus)
        nodeid = (computing if fits or not waiting else waiting).pop(0)
        seconds, share = expected[nodeid]
        planned.append((start, start + seconds, share))
        return nodeid, start + seconds

    workers = max(1, workers)
    first = [choose(0.0) for _ in range(workers)]
    queued = [choose(made[1]) if made else None for made in first]
    result = [made[0] for pair in zip(first, queued, strict=True) for made in pair if made]
    # Each worker: (when the test it runs ends, the end of the one it holds next, if any).
    ends = [(made[1], after[1] if after else None) for made, after in zip(first, queued, strict=True) if made]
    while waiting or computing:
        index = min(range(len(ends)), key=lambda i: ends[i][0] if ends[i][1] is not None else float("inf"))
        _, next_end = ends[index]
        if next_end is None:  # nothing queued anywhere: the order is complete
            break
        made = choose(next_end)
        assert made is not None
        result.append(made[0])
        ends[index] = (next_end, made[1])
    return result + browser


def save(measured: dict[str, tuple[float, float | None]], path: Path = DURATIONS) -> None:
    """Add this run's (seconds, CPU seconds) to those recorded (a test not run now keeps its old ones)."""
    known = load(path)
    known.update(measured)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # runs at once each write their own, then replace
    tmp.write_text(json.dumps({nodeid: list(value) for nodeid, value in known.items()}, indent=0, sort_keys=True))
    tmp.replace(path)
