"""On a busy machine a cell's timeout counts the time the machine let it run
(grader.cell_clock, HardenedExecute.busy_stretch): an honest cell that computes while other
programs hold the CPUs runs on past its timeout, and one that waits is stopped at it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import nbformat
import pytest

import support
from grader import processes
from grader.cell_clock import CellClock

# --- the clock, fed by hand ---------------------------------------------------------------


def test_a_cell_that_gets_a_quarter_of_the_cpu_it_wants_counts_a_quarter_of_the_time():
    clock = CellClock(cpus=2)
    clock.start(now=0.0)
    for second in range(11):
        clock.sample(cpu_seconds=0.25 * second, runnable=1, now=float(second))
    assert clock.wall(now=10.0) == pytest.approx(10.0)
    assert clock.seconds(now=10.0) == pytest.approx(2.5)


def test_a_cell_that_waits_counts_all_of_the_time():
    clock = CellClock(cpus=2)
    clock.start(now=0.0)
    for second in range(11):
        clock.sample(cpu_seconds=0.0, runnable=0, now=float(second))
    assert clock.seconds(now=10.0) == pytest.approx(10.0)


def test_more_workers_than_cpus_are_not_held_back_by_each_other():
    clock = CellClock(cpus=2)
    clock.start(now=0.0)
    for second in range(11):  # four workers on two CPUs, which they have to themselves
        clock.sample(cpu_seconds=2.0 * second, runnable=4, now=float(second))
    assert clock.seconds(now=10.0) == pytest.approx(10.0)


def test_each_cell_counts_from_its_own_start():
    clock = CellClock(cpus=1)
    clock.start(now=0.0)
    for second in range(6):
        clock.sample(cpu_seconds=0.0, runnable=1, now=float(second))  # held back throughout
    assert clock.seconds(now=5.0) == pytest.approx(0.0)
    clock.start(now=5.5)  # the next cell: only the half second after its start can be held back
    clock.sample(cpu_seconds=0.0, runnable=1, now=6.0)
    assert clock.seconds(now=6.0) == pytest.approx(0.0)
    clock.sample(cpu_seconds=0.0, runnable=0, now=7.0)  # runnable at its start, not at its end:
    assert clock.seconds(now=7.0) == pytest.approx(0.5)  # held back for half of that second


# --- what the watchdog reads ----------------------------------------------------------------


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    running: list[subprocess.Popen[bytes]] = []
    yield running
    for process in running:
        process.kill()
        process.wait(30)


def _python(code: str, **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], **kwargs)  # type: ignore[call-overload]


def test_usage_counts_the_cpu_time_and_the_threads_that_want_a_cpu(started):
    # The main thread waits on a thread that computes: /proc/PID/stat shows the main
    # thread sleeping, so the threads are read one by one.
    computes = _python("""
        import threading
        def spin():
            while True:
                pass
        thread = threading.Thread(target=spin)
        thread.start()
        thread.join()
    """)
    waits = _python("import time; time.sleep(600)")
    started += [computes, waits]
    computing = processes.ProcessSet(None, lambda: [computes.pid])
    waiting = processes.ProcessSet(None, lambda: [waits.pid])
    deadline = time.monotonic() + 30  # 0.3 CPU seconds, on a machine busy with the rest of the suite
    while computing.usage().cpu_seconds <= 0.3:
        assert time.monotonic() < deadline, "the computing thread did not use 0.3 CPU seconds in 30 s"
        time.sleep(0.05)
    runnable = [computing.usage().runnable for _ in range(20)]
    assert max(runnable) >= 1, f"the computing thread was never seen running or waiting to run: {runnable}"
    usage = waiting.usage()
    assert usage.runnable == 0 and usage.cpu_seconds < 0.3, f"a sleeping process wants no CPU: {usage}"


# --- a grading on a busy machine -------------------------------------------------------------

DEMO_TIMEOUT = 2
COMPUTES = """\
import os, time
os.sched_setaffinity(0, {%d})  # the CPU the other programs hold
end = time.process_time() + %g
while time.process_time() < end:
    pass
print("computed")"""
WAITS = "import threading\nthreading.Event().wait()"
DIES = COMPUTES + "\nos._exit(3)"
# What the target's key earns, test by test: a demonstration costs no points.
FULL_MARKS = {grade_id: (score, score) for grade_id, score in support.TARGET_CLASS_SCORES["honest"].items()}


def _with_demo(source: str) -> nbformat.NotebookNode:
    """The target's key, with a demonstration (a cell without points) at its end."""
    notebook = support.target_notebook()
    notebook.cells.append(nbformat.v4.new_code_cell(source))
    return notebook


def _course(tmp_path, name: str, busy_stretch: float, students: dict[str, str]) -> support.Course:
    course = support.make_course(tmp_path / name, support.TARGET)
    course.configure(f"c.HardenedExecute.demo_timeout = {DEMO_TIMEOUT}\n"
                     f"c.HardenedExecute.busy_stretch = {busy_stretch}")
    for student, source in students.items():
        course.submit(support.TARGET, student, _with_demo(source))
    return course


def _demo_errors(course: support.Course, student: str) -> list[str]:
    return [error for _, error in support.error_outputs(course.autograded(support.TARGET, student).cells[-1:])]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux) to make a CPU busy")
def test_a_computing_cell_runs_on_while_the_machine_is_busy_and_a_waiting_one_stops(kernel_factory, tmp_path,
                                                                                     started):
    cpu = min(os.sched_getaffinity(0))
    kernel = kernel_factory(support.ANSWERS_PYTHONS[0], support.ANSWERS_METHODS[0])
    computes = COMPUTES % (cpu, 1.2)
    stretched = _course(tmp_path, "stretched", 20, {"computes": computes, "waits": WAITS,
                                                    "dies": DIES % (cpu, 1.2)})
    wall_only = _course(tmp_path, "wall-only", 1, {"computes": computes})
    # 3 CPU seconds at a third of a CPU at most: 9 s, past twice its timeout.
    capped = _course(tmp_path, "capped", 2, {"computes": COMPUTES % (cpu, 3.0)})
    # Two programs that compute on that CPU, each in a session of its own (Linux's
    # autogroup shares a CPU between sessions): a demonstration gets at most a third of
    # it, so 1.2 CPU seconds take at least 3.6 s, past its 2 s timeout.
    for _ in range(2):
        started.append(_python(f"import os\nos.sched_setaffinity(0, {{{cpu}}})\nwhile True:\n    pass",
                               start_new_session=True))
    support.autograde_at_once([stretched, wall_only, capped], support.TARGET, kernel)  # the programs run meanwhile
    log = (stretched.path / "nbgrader.log").read_text()

    for course, student in ((stretched, "computes"), (stretched, "waits"), (stretched, "dies"),
                            (wall_only, "computes"), (capped, "computes")):
        assert course.scores(support.TARGET, student) == FULL_MARKS, (
            f"{course.path.name}/{student}: a demonstration costs no points")
    assert _demo_errors(stretched, "computes") == [], "the computing demonstration was stopped on a busy machine"
    demo = stretched.autograded(support.TARGET, "computes").cells[-1]
    assert "computed" in "".join(output.get("text", "") for output in demo.outputs), demo.outputs
    assert "on a busy machine" in log and "it may run on" in log, "the log does not say the cell was given more time"
    # Its 1.2 CPU seconds at a third of a CPU at most: held back 2.4 s at least.
    busy = stretched.autograded(support.TARGET, "computes").metadata["course_grading"]["busy_seconds"]
    assert busy >= 1.5, f"the report says the grading was held back {busy} s"
    stopped = f"CellTimeoutError: this cell ran for more than {DEMO_TIMEOUT} s; it was interrupted"
    assert stopped in _demo_errors(stretched, "waits"), (
        f"a demonstration that waits is stopped at its timeout: {_demo_errors(stretched, 'waits')}")
    assert stopped in _demo_errors(wall_only, "computes"), (
        f"with busy_stretch = 1 the timeout counts wall time: {_demo_errors(wall_only, 'computes')}")
    capped_errors = _demo_errors(capped, "computes")
    assert any(error.startswith("CellTimeoutError: this cell ran for more than 4 s on a busy machine (2 s counting")
               for error in capped_errors), f"busy_stretch = 2 stops it at twice its timeout: {capped_errors}"
    # A kernel that dies while its demonstration runs past its timeout: the death is seen, said
    # and graded like any other.
    died = _demo_errors(stretched, "dies")
    assert died and all(error.startswith("KernelDied") for error in died), f"expected the death said: {died}"


# --- ipykernel's own line when its output thread is held back -----------------------------


def test_only_ipykernels_own_flush_line_is_left_out():
    from grader.kernel_lines import without_kernel_lines

    assert without_kernel_lines("IOStream.flush timed out\n") == ("", 1)
    assert without_kernel_lines("a\nIOStream.flush timed out\nb\nIOStream.flush timed out\n") == ("a\nb\n", 2)
    # A line that only contains it, or a warning that mentions it, is the notebook's own.
    kept = "IOStream.flush timed out again\nwarning: IOStream.flush timed out\n"
    assert without_kernel_lines(kept) == (kept, 0)


# What a machine busy enough to hold ipykernel's output thread back for 10 s does: the
# thread is kept busy for 12 s (flush_timeout is 10 s), from inside a test that passes.
HOLD_OUTPUT_THREAD = ("import sys\nimport time\n\n"
                      "sys.stdout.pub_thread.schedule(lambda: time.sleep(12))  # the thread that sends output\n"
                      'print("held")\n')


def test_a_passing_test_keeps_its_points_when_the_kernels_output_thread_is_held_back(kernel_factory, tmp_path):
    source = support.target_notebook()
    test_add = support.cell_of(source, "test_add")
    test_add.source = HOLD_OUTPUT_THREAD + test_add.source
    course = support.make_course(tmp_path / "course", support.TARGET, source=source)
    support.submit_class(course, support.TARGET, {"honest": {}})
    support.autograde_at_once([course], support.TARGET,
                              kernel_factory(support.ANSWERS_PYTHONS[0], support.ANSWERS_METHODS[0]))

    assert course.scores(support.TARGET, "honest") == FULL_MARKS
    graded = course.autograded(support.TARGET, "honest")
    cell = support.cell_of(graded, "test_add")
    stderr = [output.get("text") for output in cell.outputs if output.get("name") == "stderr"]
    assert stderr == [], f"test_add kept stderr output: {stderr}"
    assert "held" in "".join(output.get("text", "") for output in cell.outputs), cell.outputs
    # The line did reach the grader (so this test shows something), and the notes say what was left out.
    log = (course.path / "nbgrader.log").read_text()
    assert "ipykernel's own line 'IOStream.flush timed out'" in log, log[-3000:]


# A demonstration whose kernel exits just after its timeout: the interrupt finds no kernel to
# answer it, and nbclient gives up waiting. That is a death, not a hang (seen once in a full
# run, where the busy test's dying demonstration reached its timeout as it exited).
DIES_AFTER_ITS_TIMEOUT = f"""\
import os, signal, time
signal.signal(signal.SIGINT, signal.SIG_IGN)  # the interrupt at {DEMO_TIMEOUT} s changes nothing
time.sleep({DEMO_TIMEOUT} + 0.5)
os._exit(3)"""


def test_a_kernel_that_exits_just_after_its_cells_timeout_is_said_to_have_died(kernel_factory, tmp_path):
    course = _course(tmp_path, "course", 1, {"dies": DIES_AFTER_ITS_TIMEOUT})
    support.autograde_at_once([course], support.TARGET,
                              kernel_factory(support.ANSWERS_PYTHONS[0], support.ANSWERS_METHODS[0]))
    assert course.scores(support.TARGET, "dies") == FULL_MARKS, "a demonstration costs no points"
    errors = _demo_errors(course, "dies")
    assert errors and all(error.startswith("KernelDied: the kernel exited with status 3") for error in errors), (
        f"expected the death said: {errors}")
