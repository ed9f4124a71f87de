"""Tools that the notebooks' test cells use to run an answer safely and explain a failure.

A test cell runs in the student's kernel, right after the student's code. An answer that
hangs, or that forks and lets the copy run on, must cost that exercise its points and
nothing else: so these helpers bound every call in time, can run a call in a throwaway
copy of the kernel, and describe the call in every failure message.
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import multiprocessing
import multiprocessing.pool
import os
import pickle
import select
import signal
import sys
import threading
import time
import types
import warnings
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

__all__ = [
    "OLD_THREAD_API",
    "PoolSpy",
    "allow_old_thread_api",
    "call_in_fork",
    "call_with_timeout",
    "can_pin",
    "describe_call",
    "explain_outcome",
    "fail_if_hung",
    "meet_at",
    "new_threads",
    "note_hung",
    "outcome",
    "patched",
    "pinned_to_one_cpu",
    "removed",
    "seconds_asked_to_wait",
    "stop_children",
    "watched_names",
]

# Exit status of a process that the answer forked and that ran on into our code: an exit
# code no correct answer produces by accident in the tests (EX_SOFTWARE in sysexits.h).
_STRAY_EXIT = 70


def describe_call(func: Callable[..., Any], args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> str:
    """Return ``func(arg, ..., key=value)`` as a student would write the call, shortened."""

    def short(value: Any) -> str:
        text = getattr(value, "__name__", None) if callable(value) else None
        text = text or repr(value)
        return text if len(text) <= 60 else text[:57] + "..."

    parts = [short(arg) for arg in args]
    parts += [f"{key}={short(value)}" for key, value in (kwargs or {}).items()]
    return f"{getattr(func, '__name__', repr(func))}({', '.join(parts)})"


# In an autograde kernel: the student's functions that were running when a cell was
# interrupted for running past its time (the grader interrupts such a cell), with the
# seconds that cell had run. A later check of such a function fails at once: a demonstration
# that hung on an answer has already shown that the answer hangs, and every later check
# would otherwise wait out its own timeout on it again.
_interrupted: dict[types.CodeType, float] = {}
_cell_started = [time.monotonic()]


def _code_of(func: Callable[..., Any]) -> types.CodeType | None:
    code = getattr(getattr(func, "__func__", func), "__code__", None)
    return code if isinstance(code, types.CodeType) else None


def _cell_starts(*_info: Any) -> None:
    _cell_started[0] = time.monotonic()


def _note_interrupted(result: Any) -> None:
    """IPython's post_run_cell callback: after an interrupted cell, note the student's
    functions that were running."""
    error = getattr(result, "error_in_exec", None)
    if not isinstance(error, KeyboardInterrupt):
        return
    seconds = time.monotonic() - _cell_started[0]
    trace = error.__traceback__
    while trace is not None:
        frame = trace.tb_frame
        if frame.f_code.co_name != "<module>" and _is_students(frame.f_globals.get("__name__") or ""):
            _interrupted.setdefault(frame.f_code, seconds)
        trace = trace.tb_next


def _watch_interrupts() -> None:
    """Watch for interrupted cells in a kernel that nbgrader's autograde runs (not in a
    student's own kernel, where an interrupt is the student's choice)."""
    if os.environ.get("NBGRADER_EXECUTION") != "autograde" or "IPython" not in sys.modules:
        return
    shell = sys.modules["IPython"].get_ipython()
    if shell is not None:
        shell.events.register("pre_run_cell", _cell_starts)
        shell.events.register("post_run_cell", _note_interrupted)


# Calls that ran past their timeout: func -> (its thread, when it started). While such a call
# is still running (an endless loop, a lock never released), a later call of the same
# function fails at once instead of waiting out its own timeout: a hung answer would
# otherwise cost every later check its full timeout.
_hung: dict[Any, tuple[threading.Thread, float]] = {}


def _is_students(module: str) -> bool:
    """Whether code of this module is the student's: not the standard library's, nor this
    package's (a check may time out ``time.sleep`` or ``queue.get`` on purpose), nor of an
    installed package."""
    if module == "__main__":  # a notebook's own code
        return True
    top = module.partition(".")[0]
    if top in sys.stdlib_module_names or top in ("course", "IPython", "ipykernel", "grader_kernel"):
        return False
    found = sys.modules.get(top)
    path = getattr(found, "__file__", None) or ""
    return "site-packages" not in path and "dist-packages" not in path


def _is_answer(func: Callable[..., Any]) -> bool:
    """Whether ``func`` is the student's code (see :func:`_is_students`)."""
    return not inspect.isbuiltin(func) and _is_students(getattr(func, "__module__", None) or "")


_FINISH_SOONER = "expected it to finish long before that (is it waiting for something that never happens?)"


def _earlier_hang(func: Callable[..., Any]) -> str | None:
    """How an earlier call of ``func`` hung (:data:`_interrupted`, :data:`_hung`), or None."""
    code = _code_of(func)
    if code is not None and code in _interrupted:
        return (f"an earlier call of it, in a cell before, ran for {_interrupted[code]:.0f} s without returning "
                "until the grader stopped it")
    try:
        earlier = _hung.get(func)
    except TypeError:  # an unhashable callable (a bound method of an unhashable object)
        return None
    if earlier is not None and earlier[0].is_alive():
        return f"an earlier call of it has been running for {time.monotonic() - earlier[1]:.0f} s without returning"
    return None


def fail_if_hung(func: Callable[..., Any], args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> None:
    """Raise AssertionError, without calling ``func``, if an earlier call of it hung: it ran
    past its timeout and is still running, or (under autograde) it was running in a cell that
    was stopped for running too long. For checks that run calls their own way (a notebook's
    tool cell), as :func:`call_with_timeout` does."""
    hang = _earlier_hang(func)
    if hang is not None:
        raise AssertionError(f"{describe_call(func, args, kwargs)} was not called: {hang}; {_FINISH_SOONER}")


def note_hung(func: Callable[..., Any], thread: threading.Thread, started: float) -> None:
    """Remember that a call of ``func`` in ``thread``, begun at ``started`` (``time.monotonic()``),
    ran past its timeout, so that :func:`fail_if_hung` stops later calls while it runs.
    Only the student's functions are remembered (a check may time out a library call on purpose)."""
    if _is_answer(func):
        with contextlib.suppress(TypeError):  # an unhashable callable
            _hung[func] = (thread, started)


def call_with_timeout(func: Callable[..., Any], /, *args: Any, timeout: float = 10.0, **kwargs: Any) -> Any:
    """Return ``func(*args, **kwargs)``, or fail if it has not returned within ``timeout`` s.

    The call runs in a daemon thread, so a call that deadlocks (a ``join`` that never
    returns) fails this check with a message instead of freezing the kernel until the
    grader's cell timeout. An exception that the call raises is raised here unchanged.
    If an earlier call of ``func`` ran past its timeout and is still running, or (under
    autograde) was running in a cell that was stopped for running too long, this one fails
    at once.
    """
    fail_if_hung(func, args, kwargs)
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = func(*args, **kwargs)
        except BaseException as exc:  # handed back to the caller below
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"check {getattr(func, '__name__', 'call')}", daemon=True)
    started = time.monotonic()
    with _tracker_settled():
        thread.start()
        thread.join(timeout)
    if thread.is_alive():
        note_hung(func, thread, started)
        raise AssertionError(
            f"{describe_call(func, args, kwargs)} did not return within {timeout:g} s; {_FINISH_SOONER}")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def call_in_fork(func: Callable[..., Any], /, *args: Any, timeout: float = 10.0, **kwargs: Any) -> Any:
    """Return ``func(*args, **kwargs)`` computed in a throwaway forked copy of this process.

    For answers that call ``os.fork`` themselves: if such an answer lets the wrong process
    exit, or lets the child run on, only the copy is affected, never the kernel. The result
    (or the exception raised) is pickled back; the copy and every process it started are
    killed after ``timeout`` seconds. POSIX only, like ``os.fork``.
    """
    if not hasattr(os, "fork"):
        raise AssertionError(
            "this check needs os.fork, which exists on Linux and macOS but not on Windows; "
            "run the notebook on Linux, macOS or WSL to check this exercise"
        )
    call = describe_call(func, args, kwargs)
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a multi-threaded process (a kernel is one) can
        # deadlock the child. The copy only runs the call and reports back, so it is safe.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the copy
        os.close(read_fd)
        _report_from_copy(write_fd, func, args, kwargs)
    os.close(write_fd)
    try:
        data = _read_until(read_fd, time.monotonic() + timeout)
    finally:
        os.close(read_fd)
    if data is None:
        _kill_group(pid)
        raise AssertionError(f"{call} did not return within {timeout:g} s; expected it to finish promptly")
    # The copy has closed its end of the pipe: end whatever the answer left running in its
    # group, before reaping the copy (until then its pid, the group's id, cannot be reused).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    status = _wait_for(pid, timeout=5.0)
    if not data:
        code = os.waitstatus_to_exitcode(status) if status is not None else None
        raise AssertionError(
            f"{call} ended the process that called it (exit code {code}) instead of returning; "
            "expected only the child to leave (with os._exit), and the parent to return its exit code"
        )
    kind, value = pickle.loads(data)
    if kind == "raised":
        if isinstance(value, (SystemExit, KeyboardInterrupt)):
            raise AssertionError(f"{call} raised {value!r} in the calling process; expected it to return")
        raise value
    return value


def _report_from_copy(write_fd: int, func: Callable[..., Any], args: tuple[Any, ...],
                      kwargs: dict[str, Any]) -> NoReturn:
    """In the forked copy: run the call, pickle its outcome into ``write_fd``, and exit."""
    me = os.getpid()
    os.setpgid(0, 0)  # a group of its own, so that everything it starts can be killed at once
    try:
        outcome: tuple[str, Any] = ("returned", func(*args, **kwargs))
    except BaseException as exc:
        outcome = ("raised", exc)
    if os.getpid() != me:
        # A process that the answer forked has run on into this code: it is not our copy.
        os._exit(_STRAY_EXIT)
    try:
        data = pickle.dumps(outcome)
    except Exception as exc:
        data = pickle.dumps(("raised", AssertionError(f"the result could not be sent back: {exc!r}")))
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    with os.fdopen(write_fd, "wb") as pipe:
        pipe.write(data)
    os._exit(0)


def _read_until(fd: int, deadline: float) -> bytes | None:
    """Read ``fd`` to its end; ``None`` if the deadline passes first."""
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _wait_for(pid: int, timeout: float) -> int | None:
    """Reap ``pid`` and return its wait status; kill its group if it outlives ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.01)
    _kill_group(pid)
    return None


def _kill_group(pid: int) -> None:
    """Kill the copy's process group (the copy and all it started) and reap the copy."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


@contextlib.contextmanager
def patched(target: Any, **values: Any) -> Iterator[None]:
    """Give ``target`` these attributes for the block, creating missing ones; then restore."""
    missing = object()
    saved = {name: getattr(target, name, missing) for name in values}
    try:
        for name, value in values.items():
            setattr(target, name, value)
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                delattr(target, name)
            else:
                setattr(target, name, value)


@contextlib.contextmanager
def removed(target: Any, *names: str) -> Iterator[None]:
    """Remove these attributes from ``target`` for the block, as on a platform without them."""
    saved = {name: getattr(target, name) for name in names if hasattr(target, name)}
    try:
        for name in saved:
            delattr(target, name)
        yield
    finally:
        for name, value in saved.items():
            setattr(target, name, value)


@contextlib.contextmanager
def pinned_to_one_cpu() -> Iterator[int]:
    """Restrict the calling thread to one CPU for the block (Linux), as ``taskset`` would.

    Raises ``RuntimeError`` where CPU affinity cannot be set or only one CPU is usable,
    since then a pinned thread looks no different; check with :func:`can_pin` first.
    """
    if not can_pin():
        raise RuntimeError("CPU affinity cannot be narrowed here (needs Linux and 2 or more usable CPUs)")
    original = os.sched_getaffinity(0)
    cpu = min(original)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, original)


@contextlib.contextmanager
def _tracker_settled() -> Iterator[None]:
    """Run a checked call with CPython's resource-tracker reentrancy warning hidden.

    On Python 3.12+ (gh-109629), when a garbage collection runs inside the resource tracker
    (each new lock or queue of a spawn or forkserver context calls it) and finalizes a lock
    of an earlier pool, the tracker warns "ResourceTracker called reentrantly ... might leak"
    on stderr. nbgrader scores a test cell that writes to stderr 0, so a right answer that
    leaves a closed pool for the collector (``with Pool() as pool: return ...``) would lose
    its points on some runs. The filter covers exactly that message, while the checked code
    runs; a young-generation collection afterwards (microseconds, where a full one takes
    about 90 ms in a kernel with matplotlib loaded) finalizes what the call left behind here
    rather than inside the next call into the tracker.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="ResourceTracker called reentrantly", category=UserWarning)
        try:
            yield
        finally:
            gc.collect(1)


def can_pin() -> bool:
    """Whether :func:`pinned_to_one_cpu` can make a visible difference on this machine."""
    return hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1


def _stop_replacing_workers(timeout: float) -> None:
    """Stop the worker handlers of the process pools still running, so that the workers
    about to be ended stay ended.

    A ``multiprocessing`` Pool's handler thread starts a new worker for each one that exits,
    until the pool is terminated: a pool that an earlier answer left open would otherwise
    refill itself, and every later test would find processes left running that are not its
    answer's. ``Pool.terminate()`` would do it too, but waits for each worker without a
    time limit. The handler (``Pool._handle_workers``, the same in Python 3.11 to 3.14)
    checks its thread's ``_state`` before each round, and wakes on the pool's change
    notifier. Thread pools are left alone: their workers are threads.
    """
    handle_workers = getattr(multiprocessing.pool.Pool, "_handle_workers", None)
    if handle_workers is None:
        return
    handlers = [thread for thread in threading.enumerate()
                if getattr(thread, "_target", None) == handle_workers
                and getattr(thread, "_state", None) != multiprocessing.pool.TERMINATE
                and thread._args[3] is not multiprocessing.pool.ThreadPool.Process]  # type: ignore[attr-defined]
    pools = [list(handler._args[5]) for handler in handlers]  # type: ignore[attr-defined]  # their workers
    for handler in handlers:
        handler._state = multiprocessing.pool.TERMINATE  # type: ignore[attr-defined]
        handler._args[13].put(None)  # type: ignore[attr-defined]  # the change notifier
    for handler in handlers:
        handler.join(timeout)
    # A stopped handler sends each idle worker the pool's end-of-work sentinel: let those
    # exit on their own (a worker ended while it waits for a task dies holding the pool's
    # queue lock, and the pool's finalizer then waits for that lock when the kernel exits).
    deadline = time.monotonic() + min(timeout, 1.0)
    for worker in (worker for pool in pools for worker in pool):
        worker.join(max(0.0, deadline - time.monotonic()))


def stop_children(timeout: float = 5.0) -> list[str]:
    """Terminate the ``multiprocessing`` children still running; return their names.

    A test calls it after an answer returns, so that a process the answer forgot to join
    does not linger into the next test, and can fail when the list is not empty.
    """
    with _tracker_settled():
        alive = multiprocessing.active_children()
        _stop_replacing_workers(timeout)
        alive += [child for child in multiprocessing.active_children() if child not in alive]
        for child in alive:
            child.terminate()
        for child in alive:
            child.join(timeout)
            if child.is_alive():
                child.kill()
                child.join(timeout)
    return [child.name for child in alive]


class PoolSpy:
    """Inside ``with PoolSpy() as spy:``, record every ``multiprocessing`` pool made and every
    call made on one, so a test can check how an answer used its pool, not only what it
    returned.

    ``spy.pools`` holds the pools made, in order; ``spy.sizes()`` gives each one's kind and
    number of workers. ``spy.calls`` holds ``(method, pool, arguments)`` for each call of a
    method in ``WATCHED``, in call order, and ``("wait", result, arguments)`` each time
    something waits for an ``AsyncResult`` (``get()`` does). When the block ends, every pool
    it saw is terminated, so that an answer's pool cannot keep running.
    """

    WATCHED = (
        "apply", "apply_async", "map", "map_async", "imap", "imap_unordered",
        "starmap", "starmap_async", "close", "join", "terminate",
    )  # fmt: skip

    def __init__(self) -> None:
        self.pools: list[multiprocessing.pool.Pool] = []
        self.calls: list[tuple[str, Any, dict[str, Any]]] = []
        self._saved: list[tuple[type, str, Callable[..., Any]]] = []

    def __enter__(self) -> PoolSpy:
        pool, result = multiprocessing.pool.Pool, multiprocessing.pool.ApplyResult
        # ThreadPool inherits these methods from Pool, so it is watched too.
        self._saved = [(pool, name, vars(pool)[name]) for name in ("__init__", *self.WATCHED)]
        self._saved.append((result, "wait", vars(result)["wait"]))
        for owner, name, method in self._saved:
            setattr(owner, name, self._watch(name, method))
        return self

    def _watch(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(method)

        def watched(obj: Any, *args: Any, **kwargs: Any) -> Any:
            if name == "__init__":
                method(obj, *args, **kwargs)
                self.pools.append(obj)
                return None
            arguments = signature.bind(obj, *args, **kwargs)
            arguments.apply_defaults()
            self.calls.append((name, obj, dict(arguments.arguments)))
            return method(obj, *args, **kwargs)

        return watched

    def __exit__(self, *exc_info: object) -> None:
        for owner, name, method in self._saved:
            setattr(owner, name, method)
        for pool in self.pools:
            pool.terminate()

    def named(self, *names: str) -> list[tuple[str, Any, dict[str, Any]]]:
        """The recorded calls of these methods, in order."""
        return [call for call in self.calls if call[0] in names]

    def sizes(self) -> list[tuple[str, int]]:
        """Each pool's kind and number of workers, e.g. ``[("Pool", 2)]``."""
        return [(type(pool).__name__, pool._processes) for pool in self.pools]  # type: ignore[attr-defined]


_watch_interrupts()


# 04_threads: the Thread methods the notes use, deprecated since Python 3.10.
OLD_THREAD_API = r"(getName|setName|isDaemon|setDaemon)\(\) is deprecated"


def allow_old_thread_api() -> None:
    """Keep the DeprecationWarning of ``getName()``, ``setName()``, ``isDaemon()`` and
    ``setDaemon()`` off stderr from now on, in this process.

    The old methods still work, and the notes use them; but a warning on stderr in a test
    cell costs that test its points in nbgrader. Other warnings are left as they were.
    Calling it again adds nothing: ``warnings.filterwarnings`` replaces an equal filter.
    """
    warnings.filterwarnings("ignore", OLD_THREAD_API, DeprecationWarning)


def outcome(func: Callable[..., Any], /, *args: Any, timeout: float = 30.0) -> tuple[str, Any]:
    """``("returned", value)`` or ``("raised", exception)`` for ``func(*args)``, run with
    :func:`call_with_timeout`.

    A thread's uncaught exception goes to ``threading.excepthook``, which prints it to
    stderr; for the call it is recorded instead, and a line on stdout says how many there
    were. Not returning in time still fails with call_with_timeout's AssertionError.
    """
    unhandled: list[Any] = []
    saved_hook = threading.excepthook
    threading.excepthook = unhandled.append
    try:
        return "returned", call_with_timeout(func, *args, timeout=timeout)
    except AssertionError:  # call_with_timeout's report that the call did not return in time
        raise
    except Exception as error:
        return "raised", error
    finally:
        threading.excepthook = saved_hook
        if unhandled:
            print(f"(threads left {len(unhandled)} exception(s) unhandled, e.g. {unhandled[0].exc_value!r})")


def explain_outcome(how: str, what: Any, expected: BaseException | None) -> str:
    """What a call did, from :func:`outcome`, for a failure message that expected it to raise
    ``expected`` itself: "returned ...", "raised a new ... around it" or "raised ..."."""
    if how == "returned":
        return f"returned {what!r}"
    if expected is not None and (what.__cause__ is expected or what.__context__ is expected):
        return f"raised a new {type(what).__name__}({what}) around it"
    return f"raised {type(what).__name__}({what})"


def meet_at(barrier: threading.Barrier) -> Callable[[Any], Any]:
    """A function of one item that returns it only once all the barrier's parties wait at it
    together; a wait past the barrier's own timeout breaks it (``BrokenBarrierError``)."""

    def meet(item: Any) -> Any:
        barrier.wait()
        return item

    return meet


def seconds_asked_to_wait(func: Callable[..., Any], /, *args: Any) -> tuple[Any, float]:
    """``func(*args)``, and the seconds that the calling thread asked to wait in all: the
    timeouts of its ``Thread.join`` calls on threads still alive (``None`` counts as
    infinite) plus its ``time.sleep`` calls.

    What is asked, not how long it took, so a busy machine changes nothing. Other threads'
    joins and sleeps are not counted.
    """
    me, asked = threading.current_thread(), []
    plain_join, plain_sleep = threading.Thread.join, time.sleep

    def join(self: threading.Thread, timeout: float | None = None) -> None:
        if threading.current_thread() is me and self.is_alive():
            asked.append(float("inf") if timeout is None else max(0.0, timeout))
        plain_join(self, timeout)

    def sleep(seconds: float) -> None:
        if threading.current_thread() is me:
            asked.append(seconds)
        plain_sleep(seconds)

    with patched(threading.Thread, join=join), patched(time, sleep=sleep):
        return func(*args), sum(asked)


def new_threads(func: Callable[..., Any], /, *args: Any) -> tuple[Any, list[threading.Thread]]:
    """``func(*args)``, called in this thread, and the threads it left alive.

    Any that is not a daemon is joined (for 5 s at most), so that none is left behind.
    Call it from the thread whose daemon flag matters: a new thread inherits the flag of
    the thread that creates it, so under call_with_timeout (a daemon thread) every thread
    would be a daemon. It has no timeout of its own.
    """
    before = set(threading.enumerate())
    got = func(*args)
    new = [thread for thread in threading.enumerate() if thread not in before]
    for thread in new:
        if not thread.daemon:
            thread.join(timeout=5)
    return got, new


@contextlib.contextmanager
def watched_names() -> Iterator[tuple[list[str], list[str]]]:
    """In the block, record the names threads read from inside themselves (``name`` read in
    the thread it belongs to, as ``current_thread().name`` does), and the names given to
    threads after they had started: yields ``(own_reads, late_names)``."""
    plain = vars(threading.Thread)["name"]
    own_reads: list[str] = []
    late_names: list[str] = []

    def get_name(self: threading.Thread) -> str:
        name: str = plain.fget(self)
        if self is threading.current_thread():
            own_reads.append(name)
        return name

    def set_name(self: threading.Thread, value: object) -> None:
        if self.ident is not None:  # the thread has started
            late_names.append(str(value))
        plain.fset(self, value)

    with patched(threading.Thread, name=property(get_name, set_name)):
        yield own_reads, late_names
