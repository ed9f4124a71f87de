"""Longest tests first: the order that keeps every test worker busy to the end.

The suite's wall time on a few CPUs is its work divided among the workers plus the tail,
the time the last long test runs after the others have finished. Sorting the longest
tests to the front (with xdist handing out one test at a time, ``--maxschedchunk 1``)
keeps that tail short. A test's length is what it took in the last run on this checkout
(``.cache/test-durations.json``, written at the end of each run), or on a fresh clone an
estimate by test file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from support.layout import CACHE

DURATIONS = CACHE / "test-durations.json"

# Seconds a test of each file took on this 2-CPU machine in a full run, where no recorded
# duration exists yet (a fresh clone). Only the order matters.
ESTIMATES = {
    "test_nbgrader_compat.py::test_nbgrader_autograde_tests_pass_with_the_course_grader": 240.0,
    "test_determinism.py::test_racy_answers_graded_the_same_every_time": 120.0,
    "test_hardening.py::test_attacks": 60.0,
    "test_classgrade.py": 45.0,
    "test_install.py": 35.0,
    "test_hardening.py": 30.0,
    "test_autograde.py::test_reference_full_marks_and_blank_zero": 28.0,
    "test_answers.py": 25.0,
    "test_static.py": 25.0,
    "test_selfcheck.py": 20.0,
    "test_kernel_start.py": 10.0,
    "test_nbgrader_compat.py": 15.0,
}


def estimate(nodeid: str) -> float:
    """The estimate for a test by its node id (``tests/test_x.py::test_y[param]``)."""
    path, _, name = nodeid.partition("::")
    file = Path(path).name
    function = name.partition("[")[0]
    return ESTIMATES.get(f"{file}::{function}", ESTIMATES.get(file, 1.0))


def load(path: Path = DURATIONS) -> dict[str, float]:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in found.items()} if isinstance(found, dict) else {}


def longest_first(nodeids: Iterable[str], known: dict[str, float]) -> list[str]:
    """The node ids, longest expected first; ties keep their order (a stable sort)."""
    return sorted(nodeids, key=lambda nodeid: -known.get(nodeid, estimate(nodeid)))


def save(measured: dict[str, float], path: Path = DURATIONS) -> None:
    """Add this run's durations to those recorded (a test not run now keeps its old one)."""
    known = load(path)
    known.update(measured)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # runs at once each write their own, then replace
    tmp.write_text(json.dumps(known, indent=0, sort_keys=True))
    tmp.replace(path)
