"""Instruments that watch an answer's locks, so a lock test's grade never depends on load.

* :class:`WatchedLock` is a re-entrant lock (or a wrapper of an answer's own lock) that records
  who takes it, can make threads meet before they take it (a :class:`Meeting`), so that a bad
  interleaving happens on every run, and raises :class:`Deadlock` instead of waiting forever.
* :func:`watch_account` takes an answer's ``Account`` lock through a :class:`WatchedLock` and
  records each change of its balance, and whether the changing thread held the lock.
* :class:`WatchedAccount` is an account of the tests' own, so that a ``transfer`` is graded
  whatever the answer's ``Account`` does.
* :func:`run_together` runs calls in threads of their own, all at once, and reports each outcome
  (:func:`kinds_of` names them); :func:`outcome_of` tells one bounded call's outcome in words.

Every wait is bounded (``PATIENCE``), so an answer the instruments do not foresee is slowed,
never hung; a right answer never waits for a bound.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

from course.checks import call_with_timeout

# The bound on every wait these tools make. A right answer never reaches it: a meeting ends as
# soon as the other threads have come (microseconds once they run) or one of them waits for a
# lock the waiting thread holds, and a lock is free as soon as its holder is done. 10 s is
# thousands of times that, even on a busy machine; only a thread that never comes, or a deadlock
# through a lock these tools do not see, waits so long.
PATIENCE = 10.0


class Deadlock(RuntimeError):
    """What a WatchedLock raises instead of waiting forever."""


class Meeting:
    """Makes `parties` threads wait for each other, so that a bad interleaving happens every run.

    A thread attends once: at a WatchedLock, when it tries to take a lock while holding `holding` watched
    locks (0: before its first lock; 1: before its second); with holding=None, at its first read of a
    watched balance. It goes on when all have come, when another thread is waiting for a lock it holds
    (then they cannot all come), or after `timeout` s.
    """

    def __init__(self, parties: int, holding: int | None = 0, timeout: float = PATIENCE) -> None:
        self.parties, self.holding, self.timeout = parties, holding, timeout
        self.arrived: set[threading.Thread] = set()
        self.condition = threading.Condition()

    def attend(self, me: threading.Thread, held: int) -> None:
        """Wait, as thread `me` holding `held` watched locks, for the others (see the class)."""
        if (self.holding is not None and held != self.holding) or me in self.arrived:
            return
        deadline = time.monotonic() + self.timeout
        with self.condition:
            self.arrived.add(me)
            self.condition.notify_all()
            while len(self.arrived) < self.parties and time.monotonic() < deadline and not waited_for(me):
                self.condition.wait(0.01)


def held_by(thread: threading.Thread) -> int:
    """How many WatchedLocks `thread` holds."""
    return sum(1 for lock in list(WatchedLock.everyone) if lock._owner is thread)


def waited_for(thread: threading.Thread) -> bool:
    """Whether some thread is waiting for a WatchedLock that `thread` holds."""
    return any(lock._waiting for lock in list(WatchedLock.everyone) if lock._owner is thread)


class WatchedLock:
    """A lock that records each acquisition, knows which thread holds it, and turns a deadlock into an error.

    log:      a list, possibly shared by several locks; each acquisition appends (thread name, lock name).
    meeting:  a Meeting that threads attend before a blocking acquire.
    inner:    the lock actually taken, such as an Account's own Lock or RLock; None: a re-entrant lock of its own.
    A blocking acquire that can never succeed raises Deadlock at once: a thread takes again a lock it holds
    that is not re-entrant, or the holder waits (itself or through others) for a lock this thread holds.
    Any other wait raises Deadlock after `patience` s.
    """

    everyone: ClassVar[weakref.WeakSet[WatchedLock]] = weakref.WeakSet()
    waits: ClassVar[dict[threading.Thread, WatchedLock]] = {}  # thread -> the WatchedLock it is waiting for

    def __init__(
        self,
        name: str = "lock",
        log: list[tuple[str, str]] | None = None,
        meeting: Meeting | None = None,
        patience: float = PATIENCE,
        inner: Any = None,
    ) -> None:
        self.name = name
        self.log = [] if log is None else log
        self.meeting = meeting
        self.patience = patience
        self._own = inner is None
        self._lock: Any = threading.Lock() if inner is None else inner
        self._owner: threading.Thread | None = None
        self._depth = 0
        self._waiting: set[threading.Thread] = set()
        WatchedLock.everyone.add(self)

    def acquire(self, blocking: bool = True, timeout: float | None = -1) -> bool:
        """Take the lock, like threading.RLock.acquire; raise Deadlock instead of waiting forever."""
        me = threading.current_thread()
        timeout = -1 if timeout is None else timeout
        if self._owner is me:
            if not self._own and not self._lock.acquire(False):
                if not blocking or timeout >= 0:
                    return False
                raise Deadlock(
                    f"the thread holding lock {self.name!r} tried to take it again; "
                    "it is not re-entrant, so it would wait forever"
                )
        else:
            if blocking and self.meeting is not None:
                self.meeting.attend(me, held_by(me))
            if not self._take(me, blocking, timeout):
                return False
            self._owner = me
        self._depth += 1
        self.log.append((me.name, self.name))
        return True

    def _take(self, me: threading.Thread, blocking: bool, timeout: float) -> bool:
        if not blocking:
            return bool(self._lock.acquire(False))
        deadline = time.monotonic() + (self.patience if timeout < 0 else timeout)
        holder = self._owner
        self._waiting.add(me)
        WatchedLock.waits[me] = self
        try:
            while not self._lock.acquire(timeout=0.005):
                if timeout < 0 and self._waits_for(me):
                    owner = self._owner
                    raise Deadlock(
                        f"waited for lock {self.name!r}, held by {owner.name if owner else 'another thread'}, "
                        "which waits for a lock this thread holds"
                    )
                if time.monotonic() >= deadline:
                    if timeout >= 0:
                        return False
                    raise Deadlock(
                        f"waited {self.patience:g} s for lock {self.name!r}, "
                        f"held by {holder.name if holder else 'another thread'}"
                    )
        finally:
            self._waiting.discard(me)
            WatchedLock.waits.pop(me, None)
        return True

    def _waits_for(self, me: threading.Thread) -> bool:
        """Whether the holder of this lock waits, itself or through others, for a lock `me` holds."""
        holder, seen = self._owner, set()
        while holder is not None and holder not in seen:
            if holder is me:
                return True
            seen.add(holder)
            lock = WatchedLock.waits.get(holder)
            holder = lock._owner if lock is not None else None
        return False

    def release(self) -> None:
        """Give the lock back once (it is re-entrant); only its owner may."""
        if self._owner is not threading.current_thread():
            raise RuntimeError("cannot release un-acquired lock")
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
        if self._depth == 0 or not self._own:
            self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def locked(self) -> bool:
        """Whether any thread holds the lock."""
        return self._owner is not None

    def held(self) -> bool:
        """Whether the calling thread holds the lock."""
        return self._owner is threading.current_thread()

    def __repr__(self) -> str:
        return f"WatchedLock({self.name!r})"


def watch_account(
    account: Any,
    meeting: Meeting | None = None,
    patience: float = PATIENCE,
    reads: Meeting | None = None,
    name: str = "account.lock",
) -> list[tuple[str, bool]]:
    """Take an Account's own lock through a WatchedLock, and record each change of an attribute named like 'balance'.

    reads: a Meeting (holding=None) that each thread attends just after its first read of such an attribute.
    Returns the list of changes: (attribute name, whether the changing thread held the account's lock).
    """
    own = getattr(account, "lock", None)
    usable = callable(getattr(own, "acquire", None)) and callable(getattr(own, "release", None))
    lock = WatchedLock(name, meeting=meeting, patience=patience, inner=own if usable else None)
    changes: list[tuple[str, bool]] = []
    cls: Any = type(account)

    def __setattr__(self: Any, attribute: str, value: Any) -> None:
        if "balance" in attribute:
            changes.append((attribute, lock.held()))
        cls.__setattr__(self, attribute, value)

    def __getattribute__(self: Any, attribute: str) -> Any:
        value = cls.__getattribute__(self, attribute)
        if reads is not None and "balance" in attribute:
            me = threading.current_thread()
            reads.attend(me, held_by(me))  # after the read: the other thread reads the same value meanwhile
        return value

    try:
        account.lock = lock
    except AttributeError:  # a read-only lock property: the account keeps its own lock, unwatched
        pass
    members = {"__setattr__": __setattr__, "__getattribute__": __getattribute__, "__slots__": ()}
    account.__class__ = type(cls.__name__, (cls,), members)
    return changes


class WatchedAccount:
    """An account for the transfer tests: balance, lock (a WatchedLock named like the account), deposit, withdraw.

    changes records each change of balance: (thread name, names of the WatchedLocks that thread held).
    """

    def __init__(
        self,
        name: str,
        balance: int = 0,
        log: list[tuple[str, str]] | None = None,
        meeting: Meeting | None = None,
        patience: float = PATIENCE,
    ) -> None:
        self.changes: list[tuple[str, list[str]]] = []
        self.name = name
        self.lock = WatchedLock(name, log, meeting, patience)
        self.balance = balance

    def __setattr__(self, attribute: str, value: Any) -> None:
        if attribute == "balance" and "balance" in self.__dict__:
            held = sorted(lock.name for lock in list(WatchedLock.everyone) if lock.held())
            self.changes.append((threading.current_thread().name, held))
        object.__setattr__(self, attribute, value)

    def deposit(self, amount: int) -> None:
        """Add amount to the balance, holding the lock."""
        with self.lock:
            self.balance += amount

    def withdraw(self, amount: int) -> None:
        """Take amount from the balance, holding the lock; ValueError if the balance is short."""
        with self.lock:
            if amount > self.balance:
                raise ValueError(f"cannot withdraw {amount} from a balance of {self.balance}")
            self.balance -= amount

    def __repr__(self) -> str:
        return f"<account {self.name}>"


def run_together(*calls: tuple[Any, ...], timeout: float = 30.0) -> list[tuple[str, Any]]:
    """Run each call, a (function, arg, ...) tuple, in a daemon thread of its own, all at once.

    Returns one outcome per call: ("returned", value), ("raised", exception),
    or ("still running", None) after `timeout` s.
    """
    outcomes: list[tuple[str, Any]] = [("still running", None)] * len(calls)

    def run(index: int, func: Callable[..., Any], *args: Any) -> None:
        try:
            outcomes[index] = ("returned", func(*args))
        except BaseException as error:
            outcomes[index] = ("raised", error)

    threads = [
        threading.Thread(target=run, args=(i, *call), name=f"caller-{i}", daemon=True) for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return outcomes


def kinds_of(outcomes: list[tuple[str, Any]]) -> list[str]:
    """Each of run_together's outcomes in a word: "returned", "still running", or the exception's class name."""
    return [kind if kind != "raised" else type(value).__name__ for kind, value in outcomes]


def outcome_of(func: Callable[..., Any], *args: Any) -> str:
    """call_with_timeout(func, *args), told in words: "returned" or "raised ValueError".

    Any other exception propagates, and a call still running after 10 s fails as call_with_timeout does.
    """
    try:
        call_with_timeout(func, *args)
        return "returned"
    except ValueError:
        return "raised ValueError"
