"""The helper package: importable anywhere without side effects, workers that behave under
every start method, and checks that bound time and survive answers that misuse fork."""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import os
import subprocess
import sys
import textwrap
import threading
import time
import types
from pathlib import Path

import psutil
import pytest

import course.workers as workers
from course.capture import captured_fd
from course.checks import (
    call_in_fork,
    call_with_timeout,
    can_pin,
    describe_call,
    patched,
    pinned_to_one_cpu,
    removed,
    stop_children,
)

POSIX = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork exists on POSIX only")


def test_import_has_no_side_effects(tmp_path):
    """From an unrelated folder: imports work, and change no global state."""
    probe = textwrap.dedent("""
        import importlib, multiprocessing, sys, threading
        import course
        for name in course.__all__:
            importlib.import_module(f"course.{name}")
        assert threading.active_count() == 1, threading.enumerate()
        assert multiprocessing.get_start_method(allow_none=True) is None, "start method was set"
        heavy = sorted(m for m in ("matplotlib", "ipywidgets", "IPython") if m in sys.modules)
        assert not heavy, f"importing course pulled in {heavy}"
        print(course.__file__)
    """)
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(os.path.join("course", "__init__.py"))


def test_all_names_every_module():
    import course

    modules = sorted(path.stem for path in Path(course.__file__).parent.glob("*.py") if path.stem != "__init__")
    assert sorted(course.__all__) == modules


@pytest.mark.parametrize("method", multiprocessing.get_all_start_methods())
def test_workers_under_every_start_method(method):
    context = multiprocessing.get_context(method)
    runs = [(workers.exit_with, (3,)), (workers.sleep_then_exit, (0.05, 4)), (workers.greet, ("x",))]
    processes = [context.Process(target=target, args=args) for target, args in runs]
    for p in processes:
        p.start()
    for p in processes:
        p.join(30)
    assert [p.exitcode for p in processes] == [3, 4, 0]


@pytest.mark.parametrize("method", multiprocessing.get_all_start_methods())
def test_communication_workers_under_every_start_method(method):
    """put_square, upper_echo and square_slice do their job in a child of every start method."""
    context = multiprocessing.get_context(method)
    queue = context.Queue()
    big = 10**100_000  # its square pickles to about 80 kB: more than a pipe's buffer
    p = context.Process(target=workers.put_square, args=(queue, 7, big))
    p.start()
    index, value = queue.get(timeout=30)  # drain before joining, or the child cannot exit
    p.join(30)
    assert (index, value == big * big, p.exitcode) == (7, True, 0)

    here, there = context.Pipe()
    p = context.Process(target=workers.upper_echo, args=(there,))
    p.start()
    replies = []
    for message in ("a", "bc"):
        here.send(message)
        replies.append(here.recv())
    here.send(None)
    p.join(30)
    assert (replies, p.exitcode) == (["A", "BC"], 0)

    array = context.Array("i", 10)
    p = context.Process(target=workers.square_slice, args=(array, 3, 7))
    p.start()
    p.join(30)
    assert list(array) == [0, 0, 0, 9, 16, 25, 36, 0, 0, 0]


@pytest.mark.parametrize("method", multiprocessing.get_all_start_methods())
def test_pool_workers_under_every_start_method(method):
    with multiprocessing.get_context(method).Pool(2) as pool:
        assert pool.map(workers.square, [0, 3, -4]) == [0, 9, 16]
        assert pool.apply(workers.slow_identity, (0.01,)) == 0.01
        assert pool.map(workers.count_primes, [0, 2, 3, 10, 100]) == [0, 0, 1, 4, 25]


@pytest.mark.parametrize("method", multiprocessing.get_all_start_methods())
def test_meet_at_barrier_tells_together_from_one_by_one(method):
    context = multiprocessing.get_context(method)
    barrier = context.Barrier(2)
    together = [context.Process(target=workers.meet_at_barrier, args=(barrier, 20.0)) for _ in range(2)]
    for p in together:
        p.start()
    for p in together:
        p.join(30)
    assert [p.exitcode for p in together] == [0, 0]

    barrier = context.Barrier(2)
    codes = []
    for _ in range(2):  # one at a time: the first waits alone and breaks the barrier
        p = context.Process(target=workers.meet_at_barrier, args=(barrier, 0.5))
        p.start()
        p.join(30)
        codes.append(p.exitcode)
    assert codes == [1, 1]


def test_describe_call():
    assert describe_call(workers.exit_with, (3,), {"x": [1]}) == "exit_with(3, x=[1])"
    assert describe_call(len, ("a" * 100,)).endswith("...)")


def test_call_with_timeout():
    assert call_with_timeout(sum, [1, 2]) == 3
    with pytest.raises(ZeroDivisionError):
        call_with_timeout(lambda: 1 / 0)
    start = time.monotonic()
    with pytest.raises(AssertionError, match=r"did not return within 0\.2 s"):
        call_with_timeout(time.sleep, 5, timeout=0.2)
    # After its 0.2 s, not after the call's 5 s: generous for a busy machine.
    assert time.monotonic() - start < 4, f"took {time.monotonic() - start:.1f} s"
    assert call_with_timeout(time.sleep, 0) is None, "a library function that timed out once is called again"


def test_call_with_timeout_does_not_wait_again_for_a_hung_answer():
    release = threading.Event()

    def stuck(wait):  # an answer whose first call never returns (until the test releases it)
        if wait:
            release.wait()
        return "done"

    stuck.__module__ = "__main__"
    with pytest.raises(AssertionError, match=r"did not return within 0\.2 s"):
        call_with_timeout(stuck, True, timeout=0.2)
    start = time.monotonic()
    with pytest.raises(AssertionError, match=r"was not called: an earlier call of it has been running for \d+ s"):
        call_with_timeout(stuck, False, timeout=30)
    assert time.monotonic() - start < 5, "expected the second call to fail at once, not after its timeout"
    release.set()  # the hung call ends: the function is called again
    deadline = time.monotonic() + 10  # generous: the released thread only has to return
    while time.monotonic() < deadline and any(t.name == "check stuck" for t in threading.enumerate()):
        time.sleep(0.01)
    assert call_with_timeout(stuck, False, timeout=30) == "done"


def test_a_tool_that_runs_calls_its_own_way_shares_the_record_of_hung_answers():
    """05's call_watching_queues runs the call in a thread of its own: it notes a hang, and a
    later call_with_timeout (or the tool itself, through fail_if_hung) refuses at once."""
    from course.checks import fail_if_hung, note_hung

    release = threading.Event()

    def stuck():
        release.wait()

    stuck.__module__ = "__main__"
    fail_if_hung(stuck)  # never called before: no error
    thread = threading.Thread(target=stuck, daemon=True)
    thread.start()
    note_hung(stuck, thread, time.monotonic())
    note_hung(time.sleep, thread, time.monotonic())  # a library function is never remembered
    fail_if_hung(time.sleep, (1,))
    with pytest.raises(AssertionError, match=r"stuck\(\) was not called: an earlier call of it has been running"):
        fail_if_hung(stuck)
    with pytest.raises(AssertionError, match="was not called"):
        call_with_timeout(stuck, timeout=30)
    release.set()
    thread.join(10)  # generous: the released thread only has to return
    fail_if_hung(stuck)  # the hung call has ended: the function may be called again


def test_call_with_timeout_does_not_call_again_what_an_interrupted_cell_was_running(monkeypatch):
    from course import checks

    monkeypatch.setattr(checks, "_interrupted", {})
    namespace = {"__name__": "student_answer"}  # a module of the student's, as a notebook's code is
    exec("import time\n\ndef spin(n):\n    time.sleep(0)\n    raise KeyboardInterrupt\n", namespace)
    spin = namespace["spin"]
    # A cell that calls it and is stopped (the grader interrupts a cell that runs too long).
    exec("try:\n    spin(1)\nexcept KeyboardInterrupt as error:\n    interrupted = error\n", namespace)
    checks._note_interrupted(types.SimpleNamespace(error_in_exec=namespace["interrupted"]))
    assert list(checks._interrupted) == [spin.__code__], "expected only the student's function to be noted"
    start = time.monotonic()
    with pytest.raises(AssertionError, match=r"ran for \d+ s without returning until the grader stopped it"):
        call_with_timeout(spin, 2, timeout=30)
    assert time.monotonic() - start < 5, "expected the call to fail at once"
    checks._note_interrupted(types.SimpleNamespace(error_in_exec=ValueError("not an interrupt")))
    assert len(checks._interrupted) == 1


def _fork_and_exit_in_parent(code):
    pid = os.fork()
    if pid != 0:
        os._exit(code)
    os.waitpid(pid, 0)  # the child runs on: ChildProcessError


def _fork_and_let_child_run_on(code):
    pid = os.fork()
    if pid == 0:
        raise SystemExit(code)  # the child runs on into the caller's code
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _sleep_in_grandchild(seconds):
    if os.fork() == 0:
        time.sleep(seconds)
        os._exit(0)
    time.sleep(seconds)


def _raise_value_error():
    raise ValueError("bad")


@POSIX
class TestCallInFork:
    def test_returns_result_computed_in_a_copy(self):
        assert call_in_fork(os.getpid) != os.getpid()
        assert call_in_fork(divmod, 7, 2) == (3, 1)

    def test_reraises_the_exception(self):
        with pytest.raises(ValueError, match="bad"):
            call_in_fork(_raise_value_error)

    def test_copy_that_exits_is_reported(self):
        with pytest.raises(AssertionError, match=r"ended the process that called it \(exit code 5\)"):
            call_in_fork(_fork_and_exit_in_parent, 5)

    def test_child_running_on_is_caught(self):
        # The answer's child ran on into our code: it must not report, and exits 70.
        assert call_in_fork(_fork_and_let_child_run_on, 3) == 70

    def test_system_exit_is_reported(self):
        with pytest.raises(AssertionError, match="SystemExit"):
            call_in_fork(sys.exit, 2)

    def test_hang_is_bounded_and_killed(self):
        before = {p.pid for p in psutil.Process().children(recursive=True)}
        start = time.monotonic()
        with pytest.raises(AssertionError, match=r"did not return within 0\.5 s"):
            call_in_fork(_sleep_in_grandchild, 30, timeout=0.5)
        assert time.monotonic() - start < 5
        # The copy was killed and reaped, and so was the grandchild it forked.
        left = {p.pid for p in psutil.Process().children(recursive=True)} - before
        assert not left


def test_patched_and_removed_restore():
    class Target:
        a = 1

    with patched(Target, a=2, b=3):
        assert (Target.a, Target.b) == (2, 3)
    assert Target.a == 1 and not hasattr(Target, "b")
    with pytest.raises(RuntimeError):
        with removed(Target, "a", "missing"):
            assert not hasattr(Target, "a")
            raise RuntimeError
    assert Target.a == 1


@pytest.mark.skipif(not can_pin(), reason="needs Linux and 2 or more usable CPUs to pin")
def test_pinned_to_one_cpu_restores():
    before = os.sched_getaffinity(0)
    with pinned_to_one_cpu() as cpu:
        assert os.sched_getaffinity(0) == {cpu}
    assert os.sched_getaffinity(0) == before


def test_stop_children():
    p = multiprocessing.Process(target=workers.sleep_then_exit, args=(30, 0), name="lingering")
    p.start()
    assert stop_children() == ["lingering"]
    assert not p.is_alive()
    assert stop_children() == []


def test_stop_children_ends_a_pool_left_open_for_good():
    """A Pool's handler replaces each worker that exits until the pool is terminated:
    stop_children stops it, so the workers stay ended, and the process can still exit.
    A thread pool beside it keeps working. In a process of its own (pools outlive a test)."""
    probe = textwrap.dedent("""
        import multiprocessing, multiprocessing.pool, time
        from course import workers
        from course.checks import stop_children
        left_open = multiprocessing.Pool(3)
        assert left_open.apply(workers.square, (3,)) == 9
        threads = multiprocessing.pool.ThreadPool(2)
        print(len(stop_children()))
        time.sleep(1)
        print(len(multiprocessing.active_children()), threads.map(abs, [-1, -2]))
        threads.close()
        threads.join()
    """)
    # About a second; 60 s only bounds a hang at exit.
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["3", "0 [1, 2]"], "expected the 3 workers stopped and not replaced"


def test_captured_fd_catches_a_child_traceback():
    spawn = multiprocessing.get_context("spawn")
    p = spawn.Process(target=workers.exit_with, args=("a message, not a code",))
    with captured_fd(2) as caught:
        p.start()
        p.join(30)
    assert p.exitcode == 1
    assert caught.last_line() == "a message, not a code"


def test_pool_spy_records_pools_and_calls_and_cleans_up():
    from course.checks import PoolSpy

    originals = {name: vars(multiprocessing.pool.Pool)[name] for name in ("__init__", *PoolSpy.WATCHED)}
    with PoolSpy() as spy:
        pool = multiprocessing.pool.ThreadPool(2)
        result = pool.apply_async(workers.square, (4,))
        assert result.get(timeout=10) == 16
        assert pool.map(workers.tag_with_pid, [1])[0] == (1, os.getpid())
        left_running = multiprocessing.get_context().Pool(1)  # the spy must terminate it
    assert spy.sizes() == [("ThreadPool", 2), ("Pool", 1)]
    assert [call[0] for call in spy.calls] == ["apply_async", "wait", "map", "wait"]
    assert spy.named("apply_async")[0][2]["args"] == (4,)
    assert {name: vars(multiprocessing.pool.Pool)[name] for name in originals} == originals, "the spy must restore Pool"
    assert left_running._state != "RUN"
    pool.terminate()


@pytest.mark.parametrize("method", multiprocessing.get_all_start_methods())
def test_demo_workers_under_every_start_method(method, tmp_path):
    """The workers that 02's and 03's demonstrations hand to processes."""
    context = multiprocessing.get_context(method)

    def run(target, *args):
        p = context.Process(target=target, args=args)
        p.start()
        p.join(30)
        return p.exitcode

    before = workers.num
    assert run(workers.add_to_num, 10) == 0 and workers.num == before, "a child's global is its own"

    counter = context.Value("i", 0)
    assert run(workers.increment, counter, 1000, True) == 0 and counter.value == 1000

    number, array = context.Value("d", 0.0), context.Array("i", range(4))
    assert run(workers.set_pi_and_negate, number, array) == 0
    assert (round(number.value, 4), list(array)) == (3.1416, [0, -1, -2, -3])

    path = tmp_path / "log.txt"
    assert run(workers.write_slowly, str(path), "ab\n", 0.0, context.Lock()) == 0 and path.read_text() == "ab\n"

    here, there = context.Pipe()
    p = context.Process(target=workers.send_all, args=(there, ["x", 1]))
    p.start()
    assert [here.recv(), here.recv()] == ["x", 1]
    p.join(30)
    assert p.exitcode == 0
    with context.Pool(1) as pool:
        value, pid = pool.apply(workers.tag_with_pid, ("t",))
    assert value == "t" and pid != os.getpid()


# Leaves pools' locks as cyclic garbage, then makes the collector run on nearly every
# allocation, so that on Python 3.12+ it runs inside the resource tracker (gh-109629) and
# finalizes one of them there: the tracker then warns on stderr, which nbgrader scores 0.
_REENTRANT_TRACKER = textwrap.dedent(
    """
    import gc, multiprocessing, sys, warnings
    from course.checks import call_with_timeout, stop_children

    ctx = multiprocessing.get_context("forkserver")

    def garbage_locks(count):
        for _ in range(count):
            node = {"lock": ctx.Lock()}
            node["self"] = node

    warnings.simplefilter("always")
    garbage_locks(5)
    gc.set_threshold(1)
    call_with_timeout(garbage_locks, 20)
    gc.set_threshold(700)
    if sys.argv[1:] == ["unguarded"]:
        garbage_locks(5)
        gc.set_threshold(1)
        garbage_locks(20)
    """
)


@POSIX
@pytest.mark.parametrize("guarded", [True, False], ids=["guarded", "unguarded"])
def test_checks_hide_the_resource_trackers_reentrancy_warning(python_minor, guarded, kernel_factory):
    # The same garbage outside the checks must still warn on 3.12+, or this test shows nothing.
    python = kernel_factory(python_minor, "forkserver").python
    args = [] if guarded else ["unguarded"]
    run = subprocess.run([python, "-c", _REENTRANT_TRACKER, *args], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    if guarded or python_minor == "3.11":
        assert "ResourceTracker called reentrantly" not in run.stderr, run.stderr
    else:
        assert "ResourceTracker called reentrantly" in run.stderr, "the unguarded run no longer shows the warning"
