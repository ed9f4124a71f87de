"""Awaiting an answer's coroutine safely: in an event loop of its own, bounded in time."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import types
from collections.abc import Coroutine
from typing import Any

from course.checks import _FINISH_SOONER, _interrupted, _tracker_settled

__all__ = ["bounded"]

# Where the answer runs, and how its outcome comes back:
#
#   kernel's loop (the test cell)            a thread of its own ("check <name>")
#   -----------------------------            ------------------------------------
#   await bounded(answer(...))  -- coro -->  asyncio.new_event_loop().run_until_complete(
#     waits on a future, at most timeout        the answer, then the tasks it left)
#     <-- call_soon_threadsafe(value or error) --
#
# A coroutine that blocks its loop (time.sleep, an endless loop) blocks only that thread:
# the kernel's loop, which runs every cell, stays free, the check fails at its bound, and no
# interrupt or kernel restart is needed. Jupyter's loop cannot be given a second loop in its
# own thread (asyncio.run fails in a cell), hence the thread.

# Coroutine code that ran past its bound: its code -> (its thread, when it started). A later
# check of the same answer, while that one still runs, fails at once (as call_with_timeout does).
_hung: dict[types.CodeType, tuple[threading.Thread, float]] = {}


async def bounded(coro: Coroutine[Any, Any, Any], timeout: float = 10.0, *, leave_no_tasks: bool = False) -> Any:
    """Await ``coro`` (an answer's coroutine, not yet started) in an event loop of its own,
    and return its result, or fail if it has not finished within ``timeout`` seconds.

    An exception that the coroutine raises is raised here unchanged. With
    ``leave_no_tasks``, it also fails if the coroutine returned while tasks it started were
    still running (a download never cancelled, a task never awaited). Those tasks are
    cancelled either way, so nothing runs on into the next check.
    """
    if not isinstance(coro, types.CoroutineType):
        raise TypeError(f"bounded() takes a coroutine, such as answer(...) of an async def answer, "
                        f"not {type(coro).__name__}: was the answer defined with 'async def'?")
    call = _describe(coro)
    earlier = _earlier_hang(coro.cr_code)
    if earlier is not None:
        coro.close()
        raise AssertionError(f"{call} was not awaited: {earlier}; {_FINISH_SOONER}")
    kernel_loop = asyncio.get_running_loop()
    finished: asyncio.Future[tuple[str, Any]] = kernel_loop.create_future()

    def report(kind: str, value: Any) -> None:
        if not finished.done():
            finished.set_result((kind, value))

    worker: list[tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        outcome: tuple[str, Any]
        try:
            task = loop.create_task(_watched(coro, leave_no_tasks))
            worker.append((loop, task))
            outcome = ("value", loop.run_until_complete(task))
        except _Left as left:
            outcome = ("left", left.description)
        except BaseException as error:  # handed back to the test below
            outcome = ("error", error)
        finally:
            _cancel_the_rest(loop)
            loop.close()
        kernel_loop.call_soon_threadsafe(report, *outcome)

    thread = threading.Thread(target=run, name=f"check {coro.cr_code.co_name}", daemon=True)
    started = time.monotonic()
    with _tracker_settled():
        thread.start()
    try:
        kind, value = await asyncio.wait_for(asyncio.shield(finished), timeout)
    except TimeoutError:
        _hung[coro.cr_code] = (thread, started)
        if worker:  # a coroutine that awaits forever ends here; one that blocks its loop cannot
            loop, task = worker[0]
            with contextlib.suppress(RuntimeError):  # its loop has closed meanwhile
                loop.call_soon_threadsafe(task.cancel)
        raise AssertionError(f"{call} did not finish within {timeout:g} s; {_FINISH_SOONER}") from None
    if kind == "error":
        raise value
    if kind == "left":
        raise AssertionError(f"{call} returned while {value} it started still ran; expected it to finish or "
                             "cancel every task it started before returning")
    return value


class _Left(Exception):
    def __init__(self, description: str) -> None:
        self.description = description


async def _watched(coro: Coroutine[Any, Any, Any], leave_no_tasks: bool) -> Any:
    value = await coro
    if leave_no_tasks:
        await asyncio.sleep(0)  # tasks cancelled just before returning end now
        me = asyncio.current_task()
        left = [task for task in asyncio.all_tasks() if task is not me and not task.done()]
        if left:
            names = sorted({_task_name(task) for task in left})
            raise _Left(f"{len(left)} task{'s' if len(left) > 1 else ''} ({', '.join(names)})")
    return value


def _task_name(task: asyncio.Task[Any]) -> str:
    code = getattr(task.get_coro(), "cr_code", None)
    return code.co_name if code is not None else task.get_name()


def _cancel_the_rest(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what the answer left in its loop and let it end (bounded: a task that ignores
    cancellation is left behind with the loop)."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=1.0))
    loop.run_until_complete(loop.shutdown_asyncgens())


def _describe(coro: types.CoroutineType[Any, Any, Any]) -> str:
    """``name(arg, ...)`` from a coroutine not yet started (its frame holds the arguments)."""
    code, frame = coro.cr_code, coro.cr_frame
    names = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
    values = frame.f_locals if frame is not None else {}

    def short(value: Any) -> str:
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."

    return f"{code.co_name}({', '.join(short(values[name]) for name in names if name in values)})"


def _earlier_hang(code: types.CodeType) -> str | None:
    if code in _interrupted:
        return (f"an earlier call of it, in a cell before, ran for {_interrupted[code]:.0f} s without finishing "
                "until the grader stopped it")
    earlier = _hung.get(code)
    if earlier is not None and earlier[0].is_alive():
        return f"an earlier call of it has been running for {time.monotonic() - earlier[1]:.0f} s without finishing"
    return None
