"""A pytest plugin that runs nbgrader's own app tests with the course's grader settings.

nbgrader's tests (``nbgrader.tests.apps``) make a course per test: its ``temp_cwd`` fixture
writes an ``nbgrader_config.py``, which some tests then extend. This plugin appends the
course's settings (:func:`grader.config.configure`) to that file before the test runs, so
that the test's own settings still come after them and win, as they would in a course.
Load it with ``-p nbgrader_course_settings`` (``tests/`` on ``PYTHONPATH``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_SETTINGS = "\n# The course's grader settings (tests/nbgrader_course_settings.py)\n" \
            "from grader.config import configure\nconfigure(c)\n"


def cache_alembic_head() -> None:
    """Ask alembic for nbgrader's newest migration once per process, not once per new
    gradebook: nbgrader stamps each new gradebook with that revision by running the
    ``alembic heads`` command, 2.2 s of CPU each time, and each of nbgrader's tests makes a
    new gradebook. The answer is a constant of the installed nbgrader, so the gradebooks
    made are the same."""
    import nbgrader.api

    if not hasattr(nbgrader.api.get_alembic_version, "cache_info"):
        nbgrader.api.get_alembic_version = functools.cache(nbgrader.api.get_alembic_version)


def pytest_configure(config: pytest.Config) -> None:
    cache_alembic_head()


@pytest.fixture(autouse=True)
def course_grader_settings(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Load grader.config in the test's course, and record how many notebooks the
    hardened grader ran (so that a caller can tell the settings were in force)."""
    if "temp_cwd" not in request.fixturenames:
        yield
        return
    from grader.execute import HardenedExecute

    request.getfixturevalue("temp_cwd")  # it writes ./nbgrader_config.py
    with Path("nbgrader_config.py").open("a", encoding="utf-8") as config:
        config.write(_SETTINGS)
    runs = []
    preprocess = HardenedExecute.preprocess

    def counted(self: HardenedExecute, *args: Any, **kwargs: Any) -> Any:
        runs.append(1)
        return preprocess(self, *args, **kwargs)

    monkeypatch.setattr(HardenedExecute, "preprocess", counted)
    yield
    request.node.user_properties.append(("hardened_notebooks", len(runs)))
