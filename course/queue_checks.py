"""An instrument that watches the queues an answer makes, so a queue test's grade never depends on load.

:func:`call_watching_queues` calls a function in a thread of its own while every ``queue.Queue``
(``PriorityQueue``, ``LifoQueue``) that thread makes records each ``put``, ``get``, ``task_done``
and ``join`` in a :class:`QueueRecord`.
No wait of a watched queue is left unbounded: a ``join`` that waits for tasks nobody marks done
gives up after ``patience`` s, and once the call is over every thread still waiting in a ``put``
or ``get`` of those queues ends quietly.
A ``get`` with a timeout runs out only once the caller has called ``join()`` (the items are all
put), never because the producer was slow on a busy machine.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from course.checks import describe_call, fail_if_hung, note_hung, patched

_T = TypeVar("_T")


class QueueRecord:
    """What one queue did while it was watched: its class, its maxsize, and each operation in order."""

    def __init__(self, cls: type, maxsize: int) -> None:
        self.cls, self.maxsize = cls, maxsize
        self.events: list[tuple[str, threading.Thread, Any]] = []  # "put", "get", "task_done", "join"
        self.users: set[threading.Thread] = set()  # every thread that called one of the queue's methods
        self.join_gave_up = 0  # the tasks still not done when a join gave up waiting
        self.joined = False  # whether some thread has called join()

    def count(self, operation: str) -> int:
        """How many times `operation` ("put", "get", "task_done", "join") was called."""
        return sum(1 for event in self.events if event[0] == operation)

    def threads(self, operation: str) -> set[threading.Thread]:
        """The threads that called `operation`."""
        return {event[1] for event in self.events if event[0] == operation}

    def __repr__(self) -> str:
        return f"{self.cls.__name__}(maxsize={self.maxsize})"


def call_watching_queues(
    func: Callable[..., Any], *args: Any, timeout: float = 10.0, patience: float = 3.0
) -> tuple[Any, list[QueueRecord], list[threading.Thread]]:
    """Call func(*args) in a daemon thread, watching every queue.Queue (or PriorityQueue, LifoQueue) that thread makes.

    Returns (result, queues, left_running): what the call returned; a QueueRecord for each queue the call made;
    and the threads other than the caller that used those queues and were still alive when the call returned.
    A join() that has waited `patience` s for tasks nobody marks done gives up and returns. A get with a timeout
    runs out only once someone has called join() (the items are all put): never because the producer was slow
    on a busy machine. Once the call is over,
    every thread still waiting in a put or get of those queues ends quietly, so that no thread waits forever.
    Raises what the call raised, or AssertionError if it has not returned within `timeout` s, or at once
    if an earlier call of func hung (it is still running, or ran until the grader stopped its cell).
    """
    fail_if_hung(func, args)
    records: list[QueueRecord] = []
    stopping = threading.Event()
    state: dict[str, threading.Thread] = {}
    names = ("__init__", "put", "get", "task_done", "join")
    real: dict[str, Any] = {name: queue.Queue.__dict__[name] for name in names}

    def watched(q: queue.Queue[Any]) -> QueueRecord | None:
        record: QueueRecord | None = q.__dict__.get("_test_record")
        if record is not None:
            record.users.add(threading.current_thread())
        return record

    def retry(attempt: Callable[[], _T], failure: type[Exception]) -> _T:
        """attempt() with a 0.05 s timeout until it succeeds; once the call is over, end this thread quietly."""
        while True:
            try:
                return attempt()
            except failure:
                if stopping.is_set():
                    raise SystemExit from None  # ends a thread without a traceback

    def __init__(self: queue.Queue[Any], maxsize: int = 0) -> None:
        real["__init__"](self, maxsize)
        if threading.current_thread() is state.get("caller"):
            record = QueueRecord(type(self), maxsize)
            self.__dict__["_test_record"] = record
            records.append(record)

    def put(self: queue.Queue[Any], item: Any, block: bool = True, timeout: float | None = None) -> None:
        record = watched(self)
        if record is None or not block or timeout is not None:
            real["put"](self, item, block, timeout)
        else:
            retry(lambda: real["put"](self, item, True, 0.05), queue.Full)
        if record is not None:
            record.events.append(("put", threading.current_thread(), item))

    def get(self: queue.Queue[Any], block: bool = True, timeout: float | None = None) -> Any:
        record = watched(self)
        if record is None or not block:
            item = real["get"](self, block, timeout)
        elif timeout is None:
            item = retry(lambda: real["get"](self, True, 0.05), queue.Empty)
        else:
            end = time.monotonic() + timeout
            while True:
                try:
                    item = real["get"](self, True, 0.05)
                    break
                except queue.Empty:
                    if stopping.is_set() or (record.joined and time.monotonic() >= end):
                        raise
        if record is not None:
            record.events.append(("get", threading.current_thread(), item))
        return item

    def task_done(self: queue.Queue[Any]) -> None:
        record = watched(self)
        if record is not None:
            record.events.append(("task_done", threading.current_thread(), None))
        real["task_done"](self)

    def join(self: queue.Queue[Any]) -> None:
        record = watched(self)
        if record is None:
            real["join"](self)
            return
        record.events.append(("join", threading.current_thread(), None))
        record.joined = True
        deadline = time.monotonic() + patience
        with self.all_tasks_done:
            while self.unfinished_tasks:
                if time.monotonic() > deadline or stopping.is_set():
                    record.join_gave_up = self.unfinished_tasks
                    return
                self.all_tasks_done.wait(0.05)

    outcome: dict[str, Any] = {}

    def call() -> None:
        state["caller"] = threading.current_thread()
        try:
            outcome["value"] = func(*args)
        except BaseException as error:
            outcome["error"] = error

    with patched(queue.Queue, __init__=__init__, put=put, get=get, task_done=task_done, join=join):
        caller = threading.Thread(target=call, name="caller", daemon=True)
        started = time.monotonic()
        caller.start()
        caller.join(timeout)
        timed_out = caller.is_alive()
        if timed_out:
            note_hung(func, caller, started)
        users = {thread for record in records for thread in record.users} - {caller}
        left_running = sorted((thread for thread in users if thread.is_alive()), key=lambda thread: thread.name)
        stopping.set()
        deadline = time.monotonic() + 2.0
        for thread in users | {caller}:
            thread.join(max(0.0, deadline - time.monotonic()))
    if timed_out:
        raise AssertionError(
            f"{describe_call(func, args)} did not return within {timeout:g} s; expected it to finish long before that "
            "(does a put wait for room that no consumer makes, or a join wait for threads that never stop?)"
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value"), records, left_running
