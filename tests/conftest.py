"""Fixtures: the Python × start-method × assignment matrix, kernels, and course directories."""

from __future__ import annotations

from pathlib import Path

import pytest

import support
from course.cpus import usable_cpu_count

PYTHONS = support.find_pythons()


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: two workers per usable CPU. The tests mostly wait (for kernels, child
    processes and sleeps): with one worker per CPU they kept the CPUs 35% busy, and two
    per CPU halved the suite's wall time on a 2-CPU machine."""
    return 2 * usable_cpu_count()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest tests first (support.schedule). Every xdist worker collects, and must reach
    the same order: they all read the same recorded durations."""
    order = {nodeid: i for i, nodeid in enumerate(support.schedule.longest_first(
        [item.nodeid for item in items], support.schedule.load()))}
    items.sort(key=lambda item: order[item.nodeid])


_measured: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _measured[report.nodeid] = _measured.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    # The controller (or a run without xdist) records what each test took, for the next run's order.
    if not hasattr(session.config, "workerinput") and _measured:
        support.schedule.save(_measured)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        "course pythons: " + ", ".join(f"{minor} ({path})" for minor, path in PYTHONS.items()),
        "course start methods: " + ", ".join(support.METHODS),
        "course assignments: " + ", ".join(support.assignments()),
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize by what this checkout and machine have, so new notebooks need no test code."""
    explicit = set()
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0]
        explicit.update(n.strip() for n in (names.split(",") if isinstance(names, str) else names))
    for name, values in (
        ("assignment", support.assignments()),
        ("python_minor", list(PYTHONS)),
        ("start_method", support.METHODS),
    ):
        if name in metafunc.fixturenames and name not in explicit:
            metafunc.parametrize(name, values)


@pytest.fixture(scope="session")
def kernel_factory(tmp_path_factory: pytest.TempPathFactory):
    """Make (and remember) the kernel set-up for a Python minor version and start method."""
    made: dict[tuple[str, str], support.KernelSetup] = {}

    def make(minor: str, method: str) -> support.KernelSetup:
        if (minor, method) not in made:
            python = support.kernel_python(minor, PYTHONS[minor])
            made[minor, method] = support.KernelSetup(
                minor=minor,
                python=python,
                method=method,
                jupyter_path=support.write_kernelspec(tmp_path_factory.mktemp(f"jupyter-{minor}"), python),
                ipython_dir=support.write_start_method_profile(tmp_path_factory.mktemp(f"ipython-{method}"), method),
            )
        return made[minor, method]

    return make


@pytest.fixture(scope="session")
def course_factory(tmp_path_factory: pytest.TempPathFactory):
    """Make a temporary course with an assignment generated; generate once per assignment."""
    templates: dict[str, Path] = {}

    def make(assignment: str, path: Path) -> support.Course:
        if assignment not in templates:
            template = tmp_path_factory.mktemp("template") / "course"
            support.Course.create(template, assignment)
            templates[assignment] = template
        return support.Course.create(path, assignment, template=templates[assignment])

    return make
