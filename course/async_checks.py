"""Instruments that make an asyncio test's order, concurrency and clean-up certain, so a grade never depends on load.

A test cell of notebook 08 runs in the kernel's event loop (top-level ``await``), like the
student's code before it. These tools watch that code from outside:

* :func:`bounded` awaits an answer's coroutine for at most ``seconds``, run in an event
  loop of its own (see :class:`Call`): on time-out it cancels the answer's task, waits a
  little for it (an answer may swallow ``CancelledError``), and fails with an
  ``AssertionError`` that names the call.
  :func:`start` does the same in two steps, so the test can act while the call runs.
* :func:`until` waits (``await asyncio.sleep``, never blocking the loop) until a condition
  holds, for at most ``seconds``; a right answer's wait ends as soon as its code has
  done its share, and the bound is a safety net, never a timing.
* :class:`WatchedFetchAsync` with :func:`watched_fetch_async` stands in for
  ``course.net.fetch_async`` and records each download: its url, when it finished and
  how (a body, an exception, cancelled), how many ran at once, and which are still running.
* :class:`BlockingCalls` makes ``n`` zero-argument blocking callables that meet at a
  ``threading.Barrier(n)``: they can only all get past it if they ran at the same time,
  and then they finish in reverse order, so results gathered in completion order are
  wrong on every run. They record the threads that ran them, and whether the event loop
  was free to run a callback meanwhile (not blocked waiting for them).
* :func:`watched_process_pools` records each ``concurrent.futures.ProcessPoolExecutor``
  made during the block: its ``max_workers``, how many calls were submitted to it, and
  whether ``shutdown`` was called; :func:`children_left` lists the child processes still
  alive after a bounded wait.

Held downloads come from :class:`course.pool_checks.GatedServer`, which answers a url made
with ``hold=math.inf`` only when the test calls ``release()``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import concurrent.futures.process
import contextlib
import inspect
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import course.net
from course.checks import _tracker_settled, describe_call, fail_if_hung, note_hung

__all__ = [
    "BlockingCalls",
    "Call",
    "PoolWatch",
    "WatchedFetchAsync",
    "bounded",
    "children_left",
    "start",
    "until",
    "watched_fetch_async",
    "watched_process_pools",
]

# How long a test waits at most for an answer's call; far more than a right answer needs
# (milliseconds, or a second for a pool of processes), even on a very busy machine.
CALL_SECONDS = 10.0
# How long a cancelled task gets to end: a task that swallows CancelledError never does.
CANCEL_SECONDS = 2.0
_POLL = 0.005


class Call:
    """An answer's coroutine, running in an event loop of its own (made by :func:`start`).

    The loop runs in a thread of its own, not in the kernel's loop that runs the test cell:
    an answer that blocks its loop (``time.sleep``, a blocking download, an endless loop)
    then blocks only that thread, and the test fails at its bound instead of freezing the
    kernel until the grader's cell timeout and a restart. Tasks the answer leaves behind
    run on in that loop, as they would in the kernel's, until they end or ``LINGER_SECONDS``
    have passed; then they are cancelled and the loop is closed.
    """

    def __init__(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.described = describe_call(func, args, kwargs)
        fail_if_hung(func, args, kwargs)
        made = func(*args, **kwargs)
        if not inspect.isawaitable(made):
            raise AssertionError(
                f"{self.described} returned {made!r} without awaiting anything; "
                "expected an async def function, whose call makes a coroutine to await"
            )
        self._func = func
        self._kernel_loop = asyncio.get_running_loop()
        self._outcome: asyncio.Future[tuple[str, Any]] = self._kernel_loop.create_future()
        self._answer: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None
        self._ready = threading.Event()
        self._left: list[str] | None = None  # the tasks it left running, once it has ended
        self._thread = threading.Thread(target=self._run, args=(made,), daemon=True,
                                        name=f"check {getattr(func, '__name__', 'call')}")
        self._started = time.monotonic()
        with _tracker_settled():
            self._thread.start()
        self._ready.wait()

    def _run(self, made: Any) -> None:
        global _answer_loop
        loop = asyncio.new_event_loop()
        try:
            task = loop.create_task(_awaited(made))
            task.add_done_callback(self._report)
            self._answer = (loop, task)
            _answer_loop = loop
            self._ready.set()
            loop.run_until_complete(_linger(task, self._note_left))
        finally:
            self._ready.set()
            if _answer_loop is loop:
                _answer_loop = None
            loop.close()

    def _report(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            outcome: tuple[str, Any] = ("cancelled", None)
        elif task.exception() is not None:
            outcome = ("error", task.exception())
        else:
            outcome = ("value", task.result())
        with contextlib.suppress(RuntimeError):  # the kernel's loop has closed
            self._kernel_loop.call_soon_threadsafe(_settle, self._outcome, outcome)

    def done(self) -> bool:
        """Whether the call has returned, raised or been cancelled."""
        return self._outcome.done()

    def cancel(self) -> None:
        """Ask the answer's task to stop (from the test's loop: the answer's is another)."""
        if self._answer is not None:
            loop, task = self._answer
            with contextlib.suppress(RuntimeError):  # its loop has closed meanwhile
                loop.call_soon_threadsafe(task.cancel)

    async def ended(self, seconds: float = CANCEL_SECONDS) -> str | None:
        """Wait (at most ``seconds``) for the call to end; return how ("value", "error",
        "cancelled"), or None if it still runs."""
        await asyncio.wait({self._outcome}, timeout=seconds)
        return self._outcome.result()[0] if self._outcome.done() else None

    async def result(self, seconds: float = CALL_SECONDS) -> Any:
        """The call's result (or its exception, raised), waiting at most ``seconds``.

        On time-out the answer's task is cancelled and given ``CANCEL_SECONDS`` to end; then
        an ``AssertionError`` says the call did not finish.
        """
        await asyncio.wait({self._outcome}, timeout=seconds)
        if not self._outcome.done():
            self.cancel()
            await asyncio.wait({self._outcome}, timeout=CANCEL_SECONDS)
            if not self._outcome.done():
                note_hung(self._func, self._thread, self._started)
            swallowed = "" if self._outcome.done() else (
                " It was cancelled and did not end either: it must let CancelledError propagate, "
                "and never block the event loop (time.sleep, a blocking download, a loop without await)."
            )
            raise AssertionError(
                f"{self.described} did not finish within {seconds:g} s; "
                f"expected it to finish promptly (a right answer takes well under a second here).{swallowed}"
            )
        kind, value = self._outcome.result()
        if kind == "cancelled":
            raise AssertionError(
                f"{self.described} was cancelled while the test waited for it (it raised CancelledError); "
                "expected it to return or raise an ordinary exception"
            )
        if kind == "error":
            raise value
        return value

    async def tasks_left(self, seconds: float = CANCEL_SECONDS) -> list[str]:
        """Wait (at most ``seconds``) for the tasks the answer started to end; return the
        names of those still running in its loop (a task never awaited, a download never
        cancelled). Call it after :meth:`result`."""
        deadline = time.monotonic() + seconds
        while True:
            names = self._left
            if names == [] or (names is not None and time.monotonic() >= deadline):
                return list(names)
            if time.monotonic() >= deadline:
                return ["(the answer itself, still running)"]
            await asyncio.sleep(_POLL * 10)

    def _note_left(self, names: list[str]) -> None:
        self._left = names  # one assignment: read from the test's thread as it is


# The loop of the answer started last (tests run one answer at a time): BlockingCalls asks
# it to run a callback, to see whether the answer keeps it free while its calls run.
_answer_loop: asyncio.AbstractEventLoop | None = None

# How long tasks an answer left running go on in its loop after it returned: longer than a
# test holds a download, so that the test sees them running; then they are cancelled.
LINGER_SECONDS = 15.0


async def _awaited(made: Any) -> Any:
    return await made


async def _linger(answer: asyncio.Task[Any], note_left: Callable[[list[str]], None]) -> None:
    """Wait for the answer, then for the tasks it left (at most LINGER_SECONDS), telling
    ``note_left`` which still run; cancel the rest."""
    with contextlib.suppress(BaseException):
        await asyncio.wait({answer})
    me = asyncio.current_task()

    def others() -> list[asyncio.Task[Any]]:
        return [task for task in asyncio.all_tasks() if task is not me and not task.done()]

    deadline = time.monotonic() + LINGER_SECONDS
    while others() and time.monotonic() < deadline:
        note_left(sorted(_task_name(task) for task in others()))
        await asyncio.sleep(_POLL * 10)
    for task in others():
        task.cancel()
    if others():
        await asyncio.wait(others(), timeout=CANCEL_SECONDS)
    note_left(sorted(_task_name(task) for task in others()))
    await asyncio.get_running_loop().shutdown_asyncgens()


def _task_name(task: asyncio.Task[Any]) -> str:
    code = getattr(task.get_coro(), "cr_code", None)
    return code.co_name if code is not None else task.get_name()


def _settle(future: asyncio.Future[Any], outcome: Any) -> None:
    if not future.done():
        future.set_result(outcome)


def start(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Call:
    """Start ``func(*args, **kwargs)`` (an ``async def`` function) as a task; see :class:`Call`."""
    return Call(func, args, kwargs)


async def bounded(func: Callable[..., Any], /, *args: Any, seconds: float = CALL_SECONDS, **kwargs: Any) -> Any:
    """``await func(*args, **kwargs)``, for at most ``seconds`` (see :meth:`Call.result`)."""
    return await start(func, *args, **kwargs).result(seconds)


async def until(condition: Callable[[], object], seconds: float = CALL_SECONDS) -> bool:
    """Wait until ``condition()`` is true, or ``seconds`` have passed; return whether it is true."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            return bool(condition())
        await asyncio.sleep(_POLL)
    return True


# -- downloads --------------------------------------------------------------------------


class WatchedFetchAsync:
    """A stand-in for ``course.net.fetch_async`` that awaits it and records each call."""

    def __init__(self) -> None:
        self.plain = course.net.fetch_async
        self.urls: list[str] = []  # the url of each call, in call order
        self.finished: list[tuple[str, Any]] = []  # (url, body or exception or "cancelled"), in finishing order
        self.running: list[str] = []  # the urls of the calls not finished yet
        self.peak = 0  # the most calls running at once
        self.threads: set[threading.Thread] = set()  # threads, not idents: an ended thread's ident is reused

    async def __call__(self, url: str, *args: Any, **kwargs: Any) -> bytes:
        self.urls.append(url)
        self.running.append(url)
        self.threads.add(threading.current_thread())
        self.peak = max(self.peak, len(self.running))
        outcome: Any = "cancelled"
        try:
            outcome = await self.plain(url, *args, **kwargs)
            return outcome
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            outcome = error
            raise
        finally:
            self.running.remove(url)
            self.finished.append((url, outcome))

    def outcome(self, url: str) -> Any:
        """What the last finished download of ``url`` gave (a body, an exception, ``"cancelled"``), or None."""
        for finished, outcome in reversed(self.finished):
            if finished == url:
                return outcome
        return None

    async def left_running(self, seconds: float = CANCEL_SECONDS) -> list[str]:
        """Wait (at most ``seconds``) for the downloads still running to end; return their urls.

        A download that was cancelled ends within a few turns of the loop; one that nobody
        cancelled and whose server holds it does not end before the test releases it."""
        await until(lambda: not self.running, seconds)
        return list(self.running)


@contextlib.contextmanager
def watched_fetch_async(namespace: dict[str, Any]) -> Iterator[WatchedFetchAsync]:
    """Inside the block, ``course.net.fetch_async`` is a :class:`WatchedFetchAsync`, and so is
    every name in ``namespace`` (the notebook's globals) that refers to it."""
    watch = WatchedFetchAsync()
    names = [name for name, value in list(namespace.items()) if value is watch.plain]
    saved = {name: namespace[name] for name in names}
    course.net.fetch_async = watch
    namespace.update(dict.fromkeys(names, watch))
    try:
        yield watch
    finally:
        course.net.fetch_async = watch.plain
        namespace.update(saved)


# -- blocking calls -----------------------------------------------------------------------


class BlockingCalls:
    """``n`` zero-argument blocking callables (``calls.funcs``) that must run at the same time.

    Each one records its thread, then waits at a ``threading.Barrier(n)`` for ``seconds``
    at most: all ``n`` pass it only if all ``n`` are running at once. Past it, each one asks
    the answer's event loop (see :class:`Call`; else the one running when they were made)
    to run a callback, and waits for it ``seconds`` at most: ``loop_free[i]`` says whether
    the loop ran it, i.e. was not blocked waiting for the calls. ``in_loop[i]`` says whether
    call ``i`` ran in the thread of a running event loop (called directly, not with
    ``asyncio.to_thread``). Then call ``i`` waits for call ``i + 1`` to return first, so
    they return in reverse order. Call ``i`` returns ``values[i]`` in every case, so a
    bounded wait is the only cost of a wrong answer.
    """

    def __init__(self, values: list[Any], seconds: float = 5.0) -> None:
        self.values = list(values)
        self.seconds = seconds
        count = len(self.values)
        self.barrier = threading.Barrier(max(count, 1))
        self.returned = [threading.Event() for _ in range(count)]
        self.threads: list[threading.Thread | None] = [None] * count
        self.calls = [0] * count
        self.met = False  # whether all of them were running at once
        self.loop_free = [False] * count  # whether the event loop ran a callback while call i waited for it
        self.in_loop = [False] * count  # whether call i ran in an event loop's own thread (blocking it)
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        self.order: list[int] = []  # the order they returned in
        self._lock = threading.Lock()
        self.funcs = [self._make(i) for i in range(count)]

    def _make(self, i: int) -> Callable[[], Any]:
        def call() -> Any:
            with self._lock:
                self.calls[i] += 1
                self.threads[i] = threading.current_thread()
            try:
                self.barrier.wait(self.seconds)
                self.met = True
            except threading.BrokenBarrierError:
                pass
            loop = _answer_loop if _answer_loop is not None and _answer_loop.is_running() else self._loop
            if self.met and loop is not None:
                # The loop runs this callback only if it is free, not blocked waiting for the calls.
                ran = threading.Event()
                with contextlib.suppress(RuntimeError):  # a loop closed meanwhile
                    loop.call_soon_threadsafe(ran.set)
                self.loop_free[i] = ran.wait(self.seconds)
            with self._lock:
                self.in_loop[i] = _in_a_running_loop()
            if self.met and i + 1 < len(self.returned):
                self.returned[i + 1].wait(self.seconds)
            with self._lock:
                self.order.append(i)
            self.returned[i].set()
            return self.values[i]

        call.__name__ = call.__qualname__ = f"blocking_call_{i}"
        return call


def _in_a_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


# -- process pools --------------------------------------------------------------------------


class PoolWatch:
    """What :func:`watched_process_pools` saw: ``made`` (the max_workers of each pool made),
    ``submitted`` (calls submitted, all pools), ``shutdowns`` (shutdown calls, all pools)."""

    def __init__(self) -> None:
        self.made: list[int | None] = []
        self.submitted = 0
        self.shutdowns = 0


@contextlib.contextmanager
def watched_process_pools(namespace: dict[str, Any]) -> Iterator[PoolWatch]:
    """Inside the block, ``ProcessPoolExecutor`` (in ``concurrent.futures``, its ``process``
    module, and every name in ``namespace`` that refers to it) is a subclass that records
    what :class:`PoolWatch` lists. It behaves exactly as the real one otherwise."""
    watch = PoolWatch()
    plain = concurrent.futures.process.ProcessPoolExecutor

    class ProcessPoolExecutor(plain):  # type: ignore[valid-type,misc]
        def __init__(self, max_workers: int | None = None, *args: Any, **kwargs: Any) -> None:
            super().__init__(max_workers, *args, **kwargs)
            watch.made.append(max_workers)

        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
            watch.submitted += 1
            return super().submit(fn, *args, **kwargs)

        def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
            watch.shutdowns += 1
            super().shutdown(wait, cancel_futures=cancel_futures)

    ProcessPoolExecutor.__module__ = plain.__module__
    names = [name for name, value in list(namespace.items()) if value is plain]
    saved = {name: namespace[name] for name in names}
    # concurrent.futures makes ProcessPoolExecutor on first use (a module __getattr__):
    # its own attribute, if any, is put back after the block, else removed again.
    package = vars(concurrent.futures)
    had = "ProcessPoolExecutor" in package
    concurrent.futures.ProcessPoolExecutor = ProcessPoolExecutor  # type: ignore[misc]
    concurrent.futures.process.ProcessPoolExecutor = ProcessPoolExecutor  # type: ignore[misc]
    namespace.update(dict.fromkeys(names, ProcessPoolExecutor))
    try:
        yield watch
    finally:
        concurrent.futures.process.ProcessPoolExecutor = plain  # type: ignore[misc]
        if had:
            concurrent.futures.ProcessPoolExecutor = plain  # type: ignore[misc]
        else:
            package.pop("ProcessPoolExecutor", None)
        namespace.update(saved)


async def children_left(before: set[Any], seconds: float = 5.0) -> list[int]:
    """Wait (at most ``seconds``, without blocking the loop) for the child processes started
    since ``before`` (a set of ``multiprocessing.active_children()``) to end; return the
    pids of those still alive."""

    def alive() -> list[Any]:
        return [child for child in multiprocessing.active_children() if child not in before]

    await until(lambda: not alive(), seconds)
    return [child.pid for child in alive()]

