"""Fixtures: the Python × start-method × assignment matrix, kernels, and course directories."""

from __future__ import annotations

import resource

import pytest
from nbgrader_course_settings import cache_alembic_head

import support
from course.cpus import usable_cpu_count

PYTHONS = support.find_pythons()


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: four workers per usable CPU. Most tests mostly wait (for kernels, child
    processes, sleeps, and wrong answers that wait out their bounds): with one worker per
    CPU they kept the CPUs 35% busy; with two per CPU the CPUs were still 42% idle over a
    whole run (2,197 CPU seconds in 1,898 s on 2 CPUs). On 2 CPUs, fresh clones of the same
    code took 890 s of pytest with three per CPU and 832 s with four."""
    return 4 * usable_cpu_count()


def pytest_configure(config: pytest.Config) -> None:
    cache_alembic_head()  # for the gradebooks tests make in-process
    config.addinivalue_line("markers", "reference_matrix: parametrize assignment, python_minor and start_method "
                                       "jointly, by support.reference_runs")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest tests first, the browser tests last (support.schedule.order): every xdist
    worker collects, and must reach the same order; they all read the same records."""
    order = {nodeid: i for i, nodeid in enumerate(support.schedule.order(
        [item.nodeid for item in items], support.schedule.known()))}
    items.sort(key=lambda item: order[item.nodeid])


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> support.schedule.CpuAwareScheduling | None:
    """With ``-n``'s default ``--dist load``: hand out the tests that wait beside the tests
    that compute, by what the workers run at the time (support.schedule.CpuAwareScheduling)."""
    if config.getvalue("dist") != "load":
        return None
    return support.schedule.CpuAwareScheduling(config, log, cpus=usable_cpu_count())


def _cpu_seconds() -> float:
    """CPU time of this process, of its children that have ended (kernels, their processes), and
    of the processes its fork server ran for it (support.autograde_at_once)."""
    mine, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime + support.forked_cpu_seconds()


_CPU_AT_START = pytest.StashKey[float]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_CPU_AT_START] = _cpu_seconds()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """The CPU a test took, set-up and teardown included, goes to the controller with its
    last report (xdist sends reports, with their user properties, from the workers)."""
    if call.when == "teardown" and _CPU_AT_START in item.stash:
        item.user_properties.append(("cpu_seconds", _cpu_seconds() - item.stash[_CPU_AT_START]))
    yield


_measured: dict[str, tuple[float, float | None]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    seconds, cpu = _measured.get(report.nodeid, (0.0, None))
    measured_cpu = dict(report.user_properties).get("cpu_seconds")
    _measured[report.nodeid] = (seconds + report.duration, cpu if not measured_cpu else float(measured_cpu))


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
    if metafunc.definition.get_closest_marker("reference_matrix"):
        metafunc.parametrize("assignment, python_minor, start_method",
                             support.reference_runs(support.assignments(), list(PYTHONS)))
        explicit.update(("assignment", "python_minor", "start_method"))
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
def course_factory():
    """Make a temporary course with an assignment generated (support.Course.create: every
    worker copies one generation, made once per change of its inputs)."""
    return lambda assignment, path: support.Course.create(path, assignment)
