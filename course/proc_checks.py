"""Instruments that make a process test's race or order certain, so a grade never depends on timing.

Two context managers, for the notebooks' hidden tests (and visible checks):

* :class:`ForcedOrder` decides the order in which results reach the caller.
  ``order.held(value, after=k)`` wraps a number so that the process (or pool worker) that
  squares it (``HeldInt``) or returns it (``HeldFloat``) sends its result only once ``k``
  other results have arrived in this process. An answer that returns results in the order
  they arrive therefore gets the same wrong order on every run, while an answer that puts
  them back in input order never notices. An answer that waits for the held result before
  it lets anything else run (one process at a time, ``apply``) is detected and served at
  once: the hold is lifted when nothing else is left running.
* :class:`ForcedRace` makes lost updates certain. Inside it, ``multiprocessing`` Values and
  Locks are instrumented: each process's first read of the counter waits until every one
  of the processes has read it or is waiting for a lock. Without a lock that they all share,
  two processes then read before either writes, and an update is lost on every run; with
  one, the reader holds the lock and the others are waiting for it, so nobody waits longer
  than it takes the processes to start.

Everything that crosses into a child process lives here, in an importable module, and works
under the ``fork``, ``spawn`` and ``forkserver`` start methods. Every wait is bounded
(``seconds``), so that an answer the instruments do not foresee is slowed, never hung.
"""

from __future__ import annotations

import contextlib
import inspect
import multiprocessing
import multiprocessing.context
import multiprocessing.dummy
import multiprocessing.pool
import multiprocessing.process
import multiprocessing.queues
import multiprocessing.sharedctypes
import multiprocessing.synchronize
import os
import queue
import shutil
import tempfile
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import course.workers
from course.checks import _tracker_settled, patched

__all__ = ["ForcedOrder", "ForcedRace", "HeldFloat", "HeldInt", "calls_here"]

# How long a held result or a first read waits at most for what it waits for. It is a safety
# net, not a timing: a right answer's wait ends as soon as the other processes have started
# and done their share (well under a second, a few seconds on a very busy machine).
WAIT_SECONDS = 10.0
_POLL = 0.002  # seconds between two looks at a gate or at the other processes

_Process = multiprocessing.process.BaseProcess
_Pool = multiprocessing.pool.Pool
_ApplyResult = multiprocessing.pool.ApplyResult
# The real factories, kept before any test replaces them.
_REAL_RAW_VALUE = multiprocessing.sharedctypes.RawValue
_REAL_RAW_ARRAY = multiprocessing.sharedctypes.RawArray


class _Patches:
    """Attributes replaced on classes and modules, restored in reverse order."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, bool, Any]] = []

    def set(self, target: Any, name: str, value: Any) -> None:
        """Replace ``target.name`` with ``value`` until :meth:`restore`."""
        self._saved.append((target, name, name in vars(target), vars(target).get(name)))
        setattr(target, name, value)

    def restore(self) -> None:
        while self._saved:
            target, name, own, value = self._saved.pop()
            if own:
                setattr(target, name, value)
            else:
                delattr(target, name)


# --- ForcedOrder ---------------------------------------------------------------------------


class _Gate:
    """A one-way signal that crosses processes: a file that appears in a folder."""

    def __init__(self, folder: str, name: str, owner: int, seconds: float) -> None:
        self.folder, self.name, self.owner, self.seconds = folder, name, owner, seconds

    @property
    def path(self) -> str:
        return os.path.join(self.folder, self.name)

    def is_open(self) -> bool:
        # A folder that is gone (the test has ended) opens every gate in it.
        return os.path.exists(self.path) or not os.path.isdir(self.folder)

    def open(self) -> None:
        with contextlib.suppress(OSError), open(self.path, "a"):
            pass

    def wait(self) -> None:
        """Return once the gate is open, or after ``seconds`` at most."""
        deadline = time.monotonic() + self.seconds
        while not self.is_open() and time.monotonic() < deadline:
            time.sleep(_POLL)

    def wait_elsewhere(self) -> None:
        """Wait, unless this is the process that made the gate (it would wait for itself)."""
        if os.getpid() != self.owner:
            self.wait()


class HeldInt(int):
    """An int whose square, computed in another process, waits for its gate to open.

    ``put_square`` and ``square`` compute ``number * number`` in the child or pool worker:
    that multiplication waits, so the result is sent after the results the gate waits for.
    In the process that made it, it multiplies at once. The product is a plain int.
    """

    gate: _Gate

    def __new__(cls, value: int, gate: _Gate) -> HeldInt:
        self = super().__new__(cls, value)
        self.gate = gate
        return self

    def __mul__(self, other: Any) -> Any:
        if not isinstance(other, int):
            return NotImplemented
        self.gate.wait_elsewhere()
        return int(self) * int(other)

    __rmul__ = __mul__

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return HeldInt, (int(self), self.gate)


class HeldFloat(float):
    """A float that, returned from another process, is sent back only once its gate opens.

    ``slow_identity(seconds)`` sleeps, then returns ``seconds``: the worker pickles the
    result to send it, and that pickling waits for the gate. It arrives as a plain float.
    (A thread pool pickles nothing: :class:`ForcedOrder` holds its threads after the sleep.)
    """

    gate: _Gate

    def __new__(cls, value: float, gate: _Gate) -> HeldFloat:
        self = super().__new__(cls, value)
        self.gate = gate
        return self

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        if os.getpid() == self.gate.owner:  # sent to a worker: it stays held there
            return HeldFloat, (float(self), self.gate)
        self.gate.wait()  # sent back from a worker: once the gate opens, as a plain float
        return float, (float(self),)


def _held_in(values: Iterable[Any]) -> list[_Gate]:
    return [value.gate for value in values if isinstance(value, (HeldInt, HeldFloat))]


class _HeldSleep:
    """Stands in for the ``time`` module of ``course.workers``: a thread of a thread pool
    that has slept for a held value waits for its gate before returning it."""

    def __init__(self, module: Any) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)

    def sleep(self, seconds: float) -> None:
        self._module.sleep(seconds)
        in_thread_pool = isinstance(threading.current_thread(), multiprocessing.dummy.DummyProcess)
        if isinstance(seconds, HeldFloat) and in_thread_pool:
            seconds.gate.wait()


class ForcedOrder:
    """Inside ``with ForcedOrder() as order:``, ``order.held(value, after=k)`` is ``value``
    (an int to square or a float for ``slow_identity``) whose result reaches this process
    only after ``k`` other results have: from a ``multiprocessing.Queue`` (counted at each
    ``get``) or from a pool (counted as each result comes back).

    If the caller waits (``Queue.get``, ``Process.join``, ``AsyncResult.get``, ``Pool.join``)
    while nothing but held values is left running, the hold with the smallest ``after`` is
    lifted at once: an answer that runs one task at a time is served without delay. Each hold
    lasts ``seconds`` at most.
    """

    def __init__(self, seconds: float = WAIT_SECONDS) -> None:
        self.seconds = seconds
        self.received = 0
        self._owner = os.getpid()
        self._folder = ""
        self._lock = threading.Lock()
        self._gates: list[tuple[int, _Gate]] = []
        self._processes: list[tuple[Any, list[_Gate]]] = []
        self._jobs: dict[int, tuple[Any, list[_Gate]]] = {}
        self._patches = _Patches()

    def held(self, value: Any, after: int) -> Any:
        """``value``, held back until ``after`` other results have arrived."""
        gate = _Gate(self._folder, f"gate-{len(self._gates)}", self._owner, self.seconds)
        self._gates.append((after, gate))
        if isinstance(value, float):
            return HeldFloat(value, gate)
        if isinstance(value, int) and not isinstance(value, bool):
            return HeldInt(value, gate)
        raise TypeError(f"ForcedOrder.held takes an int or a float, not {type(value).__name__}")

    def __enter__(self) -> ForcedOrder:
        self._folder = tempfile.mkdtemp(prefix="course-order-")
        self._watch_processes_and_queues()
        self._watch_pools()
        self._patches.set(course.workers, "time", _HeldSleep(course.workers.time))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._patches.restore()
        shutil.rmtree(self._folder, ignore_errors=True)  # opens every gate still shut

    # Arrivals and holds.

    def _arrived(self, count: int) -> None:
        with self._lock:
            self.received += count
            for after, gate in self._gates:
                if after <= self.received:
                    gate.open()

    def _after(self, gate: _Gate) -> int:
        return next(after for after, g in self._gates if g is gate)

    def _lift_first(self, gates: Iterable[_Gate]) -> None:
        shut = [gate for gate in gates if not gate.is_open()]
        if shut:
            min(shut, key=self._after).open()

    def _any_shut(self) -> bool:
        return any(not gate.is_open() for _, gate in self._gates)

    # Processes and queues: one process per value.

    def _unstick_processes(self) -> None:
        """If every process still running waits at a shut gate, open the first of them."""
        running = [gates for process, gates in self._processes if process.exitcode is None]
        if running and all(any(not gate.is_open() for gate in gates) for gates in running):
            self._lift_first(gate for gates in running for gate in gates)

    def _watch_processes_and_queues(self) -> None:
        start = _Process.start
        join = _Process.join
        get = multiprocessing.queues.Queue.get

        def watched_start(process: Any) -> None:
            # start() deletes the arguments under some start methods: look at them first.
            self._processes.append((process, _held_in([*process._args, *process._kwargs.values()])))
            start(process)

        def watched_join(process: Any, timeout: float | None = None) -> None:
            gates = next((gates for p, gates in self._processes if p is process), [])
            deadline = time.monotonic() + self.seconds
            while (any(not gate.is_open() for gate in gates) and process.exitcode is None
                   and time.monotonic() < deadline):
                self._unstick_processes()
                time.sleep(_POLL)
            join(process, timeout)

        def watched_get(q: Any, block: bool = True, timeout: float | None = None) -> Any:
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                if not block or not self._any_shut():
                    step = timeout if deadline is None else max(0.0, deadline - time.monotonic())
                else:  # wait in short steps, to see whether the caller waits for a held value
                    step = 0.02 if deadline is None else max(0.0, min(0.02, deadline - time.monotonic()))
                try:
                    item = get(q, block, step)
                except queue.Empty:
                    self._unstick_processes()
                    if not block or (deadline is not None and time.monotonic() >= deadline):
                        raise
                    continue
                self._arrived(1)
                return item

        self._patches.set(_Process, "start", watched_start)
        self._patches.set(_Process, "join", watched_join)
        self._patches.set(multiprocessing.queues.Queue, "get", watched_get)

    # Pools: apply_async, map, imap and imap_unordered, on processes or threads.

    def _unstick_pool(self, pool: Any) -> None:
        """If every job the pool has not finished is a held apply_async, open the first."""
        try:
            pending = list(pool._cache.values())
        except (AttributeError, RuntimeError):
            return
        held = [self._jobs.get(id(job), (None, []))[1] for job in pending]
        if pending and all(any(not gate.is_open() for gate in gates) for gates in held):
            self._lift_first(gate for gates in held for gate in gates)

    def _watch_pools(self) -> None:
        pool_classes: list[Any] = [
            _ApplyResult, multiprocessing.pool.MapResult,
            multiprocessing.pool.IMapIterator, multiprocessing.pool.IMapUnorderedIterator,
        ]  # fmt: skip
        for cls in pool_classes:
            self._count_results_of(cls)
        apply_async = _Pool.apply_async
        signature = inspect.signature(vars(_Pool)["apply_async"])
        wait = _ApplyResult.wait
        join = _Pool.join

        def watched_apply_async(pool: Any, *args: Any, **kwargs: Any) -> Any:
            result = apply_async(pool, *args, **kwargs)
            with contextlib.suppress(TypeError):
                bound = signature.bind(pool, *args, **kwargs).arguments
                gates = _held_in([*bound.get("args", ()), *bound.get("kwds", {}).values()])
                if gates:
                    self._jobs[id(result)] = (result, gates)
            return result

        def watched_wait(result: Any, timeout: float | None = None) -> None:
            deadline = None if timeout is None else time.monotonic() + timeout
            while not result.ready() and self._any_shut() and result._pool is not None:
                self._unstick_pool(result._pool)
                left = 0.01 if deadline is None else min(0.01, deadline - time.monotonic())
                if left <= 0:
                    break
                result._event.wait(left)
            wait(result, None if deadline is None else max(0.0, deadline - time.monotonic()))

        def watched_join(pool: Any) -> None:
            deadline = time.monotonic() + self.seconds
            while (pool._state != multiprocessing.pool.RUN and pool._cache and self._any_shut()
                   and time.monotonic() < deadline):
                self._unstick_pool(pool)
                time.sleep(0.01)
            join(pool)

        self._patches.set(_Pool, "apply_async", watched_apply_async)
        self._patches.set(_ApplyResult, "wait", watched_wait)
        self._patches.set(_Pool, "join", watched_join)

    def _count_results_of(self, cls: Any) -> None:
        real_set = cls._set
        chunks = cls is not _ApplyResult  # map and imap may get a chunk of results at once

        def counted_set(result: Any, i: int, obj: Any) -> None:
            real_set(result, i, obj)
            success, value = obj
            self._arrived(len(value) if chunks and success and isinstance(value, list) else 1)

        self._patches.set(cls, "_set", counted_set)


# --- ForcedRace ----------------------------------------------------------------------------


class _RaceState:
    """What the counter and the locks of one ForcedRace share across processes: which
    processes have read the counter, which are waiting for a lock, and how many to expect."""

    SLOTS = 64
    CLAIMED, EXPECTED, PARENT_WAITS = 0, 1, 2

    def __init__(self, ctx: Any, processes: int, owner: int, seconds: float) -> None:
        self.owner, self.seconds, self.processes = owner, seconds, processes
        self.read = _REAL_RAW_ARRAY("i", self.SLOTS)  # one slot per process: it has read
        self.waiting = _REAL_RAW_ARRAY("i", self.SLOTS)  # it is waiting for a lock
        self.control = _REAL_RAW_ARRAY("i", [0, processes, 0])
        self.guard = _RaceLock(ctx=ctx)  # only to hand out the slots; not counted
        self._slot_pid: int | None = None
        self._slot = -1
        self._holds: tuple[int, int] = (owner, 0)  # (pid, locks this process holds now)

    def holding(self, change: int) -> None:
        """Count the instrumented locks this process holds (``change`` is +1 or -1)."""
        pid, count = self._holds
        self._holds = (os.getpid(), (count if pid == os.getpid() else 0) + change)

    def holds_a_lock(self) -> bool:
        pid, count = self._holds
        return pid == os.getpid() and count > 0

    def slot(self) -> int:
        """This process's slot, claimed on first use (-1 if there are too many processes)."""
        if self._slot_pid != os.getpid():
            with self.guard:
                claimed = self.control[self.CLAIMED]
                self.control[self.CLAIMED] = claimed + 1
            self._slot = claimed if claimed < self.SLOTS else -1
            self._slot_pid = os.getpid()
        return self._slot

    def parent_waits(self, started: int) -> None:
        """The parent waits for its processes: expect those it has started (it will start
        no more for now: one started and joined at a time are not kept waiting)."""
        self.control[self.EXPECTED] = min(self.processes, started) if started else self.processes
        self.control[self.PARENT_WAITS] = 1

    def _all_arrived(self, waiting_counts: bool = True) -> bool:
        claimed = min(self.control[self.CLAIMED], self.SLOTS)
        arrived = sum(1 for i in range(claimed) if self.read[i] or (waiting_counts and self.waiting[i]))
        return bool(self.control[self.PARENT_WAITS]) and arrived >= self.control[self.EXPECTED]

    def first_read(self) -> None:
        """Record this process's first read; wait until every process has read or waits for a lock."""
        slot = self.slot()
        if slot >= 0:
            self.read[slot] = 1
        self.wait_for_all()

    def wait_for_all(self) -> None:
        """Wait until every process has read the counter or waits for a lock (bounded)."""
        deadline = time.monotonic() + self.seconds
        while not self._all_arrived() and time.monotonic() < deadline:
            time.sleep(_POLL / 4)

    def first_write(self) -> None:
        """Before this process's first write: if it holds a lock, the processes waiting for
        it cannot read before the write, so they count; if it holds none, wait until every
        process has read (a process that released the lock between its read and its write
        then lets another read the old value on every run)."""
        holding = self.holds_a_lock()
        deadline = time.monotonic() + self.seconds
        while not self._all_arrived(waiting_counts=holding) and time.monotonic() < deadline:
            time.sleep(_POLL / 4)


class _CountedSemLock:
    """The acquire and release of a ``multiprocessing`` lock that tells the other processes
    when it is waited for. Mixed into subclasses of the real Lock and RLock: they pickle by
    their own names, which ForcedRace does not replace (it replaces Lock and RLock)."""

    _semlock: Any
    _race: _RaceState | None

    def __init__(self, *, ctx: Any, race: _RaceState | None = None) -> None:
        super().__init__(ctx=ctx)  # type: ignore[call-arg]
        self._race = race

    def _make_methods(self) -> None:
        """Keep the methods below (the real lock binds acquire and release to its semaphore's)."""

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        race = self._race
        if race is None or os.getpid() == race.owner:
            return bool(self._semlock.acquire(block, timeout))
        got = bool(self._semlock.acquire(False))
        if not got and block:
            slot = race.slot()
            if slot >= 0:
                race.waiting[slot] = 1
            try:
                got = bool(self._semlock.acquire(True, timeout))
            finally:
                if slot >= 0:
                    race.waiting[slot] = 0
        if got:
            race.holding(+1)
        return got

    def release(self) -> None:
        self._semlock.release()
        race = self._race
        if race is not None and os.getpid() != race.owner:
            race.holding(-1)

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def __getstate__(self) -> Any:
        return super().__getstate__(), self._race

    def __setstate__(self, state: Any) -> None:
        super().__setstate__(state[0])  # type: ignore[misc]
        self._race = state[1]


class _RaceLock(_CountedSemLock, multiprocessing.synchronize.Lock):
    """A ``multiprocessing.Lock`` made inside :class:`ForcedRace`."""


class _RaceRLock(_CountedSemLock, multiprocessing.synchronize.RLock):
    """A ``multiprocessing.RLock`` made inside :class:`ForcedRace`."""


class _RaceValue:
    """A shared ``multiprocessing`` Value whose first read in each child process waits for
    the other processes (see :class:`ForcedRace`)."""

    def __init__(self, raw: Any, lock: _CountedSemLock | None, state: _RaceState) -> None:
        self._raw, self._lock, self._state = raw, lock, state
        self._read_in = self._written_in = state.owner

    @property
    def value(self) -> Any:
        value = self._raw.value
        pid = os.getpid()
        if pid != self._read_in and pid != self._state.owner:
            self._read_in = pid
            self._state.first_read()
        return value

    @value.setter
    def value(self, new: Any) -> None:
        pid = os.getpid()
        if pid != self._written_in and pid != self._state.owner:
            self._written_in = pid
            self._state.first_write()
        self._raw.value = new

    def get_lock(self) -> _CountedSemLock:
        if self._lock is None:
            raise AttributeError("a Value made with lock=False (or a RawValue) has no get_lock()")
        return self._lock

    def get_obj(self) -> Any:
        return self._raw

    def __repr__(self) -> str:
        return f"<instrumented Value {self._raw!r}>"


class ForcedRace:
    """Inside ``with ForcedRace(processes):``, every ``multiprocessing.Value`` (or
    ``RawValue``), ``Lock`` and ``RLock`` made is instrumented so that ``processes`` processes
    that add to one counter lose an update on every run unless they share a lock.

    Each child process's first read of the counter, and its first write, wait until the
    parent waits for its processes (``join``, ``is_alive`` or ``exitcode``) and every process
    it started has read the counter or is waiting for a lock, at most ``seconds``. So
    read-modify-writes that the lock does not cover whole always overlap, a parent that
    reads the count before joining always reads it before any addition, and processes run
    one after another never wait.
    """

    def __init__(self, processes: int, seconds: float = WAIT_SECONDS) -> None:
        self.processes, self.seconds = processes, seconds
        self.started = 0
        self._owner = os.getpid()
        self._state: _RaceState | None = None
        self._made: list[Any] = []
        self._patches = _Patches()

    def _state_for(self, ctx: Any) -> _RaceState:
        if self._state is None:
            self._state = _RaceState(ctx or multiprocessing.get_context(), self.processes, self._owner, self.seconds)
        return self._state

    def __enter__(self) -> ForcedRace:
        patches = self._patches

        def value(typecode_or_type: Any, *args: Any, lock: Any = True, ctx: Any = None) -> _RaceValue:
            ctx = ctx or multiprocessing.get_context()
            state = self._state_for(ctx)
            own: Any = None
            if lock is True:
                own = _RaceRLock(ctx=ctx, race=state)
            elif lock:
                own = lock  # a lock the caller made (inside this block: instrumented too)
            return _RaceValue(_REAL_RAW_VALUE(typecode_or_type, *args), own, state)

        def raw_value(typecode_or_type: Any, *args: Any) -> _RaceValue:
            return _RaceValue(_REAL_RAW_VALUE(typecode_or_type, *args), None, self._state_for(None))

        def lock_factory(kind: type[_CountedSemLock]) -> Callable[..., _CountedSemLock]:
            def make(*, ctx: Any) -> _CountedSemLock:
                lock = kind(ctx=ctx, race=self._state_for(ctx))
                # Kept until the block ends: a lock made only to be handed to a process is
                # otherwise freed (and, under spawn, its semaphore unlinked) as soon as the
                # process has started, sometimes before the child has opened it.
                self._made.append(lock)
                return lock

            return make

        patches.set(multiprocessing.sharedctypes, "Value", value)
        patches.set(multiprocessing.sharedctypes, "RawValue", raw_value)
        patches.set(multiprocessing.synchronize, "Lock", lock_factory(_RaceLock))
        patches.set(multiprocessing.synchronize, "RLock", lock_factory(_RaceRLock))

        start = _Process.start
        join = _Process.join
        is_alive = _Process.is_alive
        exitcode = vars(_Process)["exitcode"]

        def parent_waits() -> None:
            if self._state is not None:
                self._state.parent_waits(self.started)

        def watched_start(process: Any) -> None:
            self.started += 1
            start(process)

        def watched_join(process: Any, timeout: float | None = None) -> None:
            parent_waits()
            join(process, timeout)

        def watched_is_alive(process: Any) -> bool:
            parent_waits()
            return bool(is_alive(process))

        def watched_exitcode(process: Any) -> int | None:
            parent_waits()
            code: int | None = exitcode.fget(process)
            return code

        self._patches.set(_Process, "start", watched_start)
        self._patches.set(_Process, "join", watched_join)
        self._patches.set(_Process, "is_alive", watched_is_alive)
        patches.set(_Process, "exitcode", property(watched_exitcode))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._patches.restore()
        # Freeing the locks tells the resource tracker (spawn, forkserver): without its
        # warning, which nbgrader would count against the test (see course.checks).
        with _tracker_settled():
            self._made.clear()
            self._state = None


@contextlib.contextmanager
def calls_here(module: Any, name: str, attribute: str) -> Iterator[list[Any]]:
    """Record the calls that ``module`` makes to ``<its global name>.attribute`` in this process.

    For the block, the global ``module.name`` becomes a namespace whose ``attribute`` appends
    its first argument to the list this yields and then calls the real one. A worker process
    records in its own memory (a forked one starts with its own copy of the list), and a spawned
    one imports the module unchanged, so the list holds exactly the calls made here: a test can
    tell that a task ran in a worker, not in the kernel.
    """
    real = getattr(getattr(module, name), attribute)
    seen: list[Any] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        seen.append(args[0] if args else None)
        return real(*args, **kwargs)

    with patched(module, **{name: types.SimpleNamespace(**{attribute: counted})}):
        yield seen
