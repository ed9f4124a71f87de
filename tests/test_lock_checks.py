"""course.lock_checks watches an answer's locks: a bad interleaving happens on every run, a
deadlock becomes an error at once, and a right answer never waits for a bound; without a kernel."""

from __future__ import annotations

import threading
import time

import pytest

from course.lock_checks import (
    PATIENCE,
    Deadlock,
    Meeting,
    WatchedAccount,
    WatchedLock,
    kinds_of,
    outcome_of,
    run_together,
    watch_account,
)


class Account:
    """A right answer to exercise A."""

    def __init__(self, balance: int = 0) -> None:
        self.balance = balance
        self.lock = threading.RLock()

    def deposit(self, amount: int) -> None:
        with self.lock:
            self.balance += amount

    def withdraw(self, amount: int) -> None:
        with self.lock:
            if amount > self.balance:
                raise ValueError("short")
            self.balance -= amount


class UnlockedAccount(Account):
    """A racy answer: it checks and changes the balance without the lock."""

    def deposit(self, amount: int) -> None:
        self.balance += amount

    def withdraw(self, amount: int) -> None:
        if amount > self.balance:
            raise ValueError("short")
        self.balance -= amount


class CheckFirstAccount(Account):
    """A racy answer: it checks the balance before it takes the lock."""

    def withdraw(self, amount: int) -> None:
        if amount > self.balance:
            raise ValueError("short")
        with self.lock:
            self.balance -= amount


def ordered_transfer(src: WatchedAccount, dst: WatchedAccount, amount: int) -> None:
    first, second = sorted((src, dst), key=id)
    with first.lock, second.lock:
        if amount > src.balance:
            raise ValueError("short")
        src.balance -= amount
        dst.balance += amount


def argument_order_transfer(src: WatchedAccount, dst: WatchedAccount, amount: int) -> None:
    with src.lock, dst.lock:
        src.balance -= amount
        dst.balance += amount


# --- WatchedLock -------------------------------------------------------------------------


def test_watched_lock_is_reentrant_logs_and_refuses_other_threads_release():
    log: list[tuple[str, str]] = []
    lock = WatchedLock("l", log)
    with lock:
        assert lock.acquire(timeout=0.1) and lock.held() and lock.locked()
        lock.release()
        errors: list[BaseException] = []

        def release_from_another_thread() -> None:
            try:
                lock.release()
            except RuntimeError as error:
                errors.append(error)

        other = threading.Thread(target=release_from_another_thread)
        other.start()
        other.join(5)
        assert len(errors) == 1
    assert not lock.locked() and log == [(threading.current_thread().name, "l")] * 2


def test_retaking_a_held_plain_lock_raises_deadlock_at_once_or_returns_false_with_a_timeout():
    lock = WatchedLock("inner", inner=threading.Lock())
    with lock:
        start = time.monotonic()
        with pytest.raises(Deadlock, match="not re-entrant"):
            lock.acquire()
        # At once, not after the lock's patience: generous for a busy machine.
        assert time.monotonic() - start < PATIENCE / 2, f"took {time.monotonic() - start:.1f} s"
        assert lock.acquire(timeout=0.05) is False
    assert not lock.locked()


def test_a_wait_past_patience_raises_deadlock():
    lock = WatchedLock("slow", patience=0.1)
    held, done = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            held.set()
            done.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    try:
        with pytest.raises(Deadlock, match=r"waited 0\.1 s"):
            lock.acquire()
        assert lock.acquire(blocking=False) is False
    finally:
        done.set()
        holder.join(5)


def test_opposite_lock_orders_deadlock_on_every_run_and_one_order_never():
    for transfer, deadlocks in ((argument_order_transfer, True), (ordered_transfer, False)):
        meeting = Meeting(2, holding=1)
        a, b = WatchedAccount("a", 100, meeting=meeting), WatchedAccount("b", 100, meeting=meeting)
        start = time.monotonic()
        outcomes = run_together((transfer, a, b, 10), (transfer, b, a, 20), timeout=20)
        assert time.monotonic() - start < 5, "a deadlock is found at once, not after the patience"
        found = [value for kind, value in outcomes if kind == "raised" and isinstance(value, Deadlock)]
        assert bool(found) is deadlocks, outcomes
        if not deadlocks:
            assert kinds_of(outcomes) == ["returned", "returned"] and (a.balance, b.balance) == (110, 90)


def test_watched_account_records_the_locks_held_at_each_change():
    log: list[tuple[str, str]] = []
    a, b = WatchedAccount("a", 100, log), WatchedAccount("b", 0, log)
    ordered_transfer(a, b, 40)
    assert [held for _, held in a.changes + b.changes] == [["a", "b"], ["a", "b"]]
    assert sorted(name for _, name in log) == ["a", "b"]
    b.withdraw(40)
    a.deposit(1)
    assert (a.balance, b.balance) == (61, 0) and b.changes[-1][1] == ["b"]
    with pytest.raises(ValueError):
        b.withdraw(1)


# --- watch_account -----------------------------------------------------------------------


def test_watch_account_records_whether_each_change_held_the_lock():
    right, racy = Account(5), UnlockedAccount(5)
    changes = watch_account(right)
    right.deposit(1)
    assert changes == [("balance", True)] and right.balance == 6 and isinstance(right.lock, WatchedLock)
    assert not right.lock.locked() and type(right).__name__ == "Account"
    changes = watch_account(racy)
    racy.deposit(1)
    assert changes == [("balance", False)] and racy.balance == 6


def test_read_meeting_loses_an_unlocked_update_on_every_run_and_none_with_the_lock():
    for cls, expected in ((UnlockedAccount, 1), (Account, 2)):
        account = cls(0)
        watch_account(account, reads=Meeting(2, holding=None, timeout=5))
        outcomes = run_together((account.deposit, 1), (account.deposit, 1))
        assert kinds_of(outcomes) == ["returned", "returned"] and account.balance == expected


def test_lock_meeting_lets_a_check_before_the_lock_overdraw_on_every_run():
    for cls, expected in ((CheckFirstAccount, ["returned", "returned"]), (Account, ["ValueError", "returned"])):
        account = cls(100)
        watch_account(account, meeting=Meeting(2, timeout=5))
        outcomes = run_together((account.withdraw, 60), (account.withdraw, 60))
        assert sorted(kinds_of(outcomes)) == expected


def test_outcome_of_and_kinds_of_name_what_happened():
    account = Account(3)
    assert outcome_of(account.withdraw, 4) == "raised ValueError" and account.balance == 3
    assert outcome_of(account.withdraw, 3) == "returned" and account.balance == 0
    with pytest.raises(ZeroDivisionError):
        outcome_of(lambda: 1 / 0)
    assert kinds_of([("returned", 1), ("raised", KeyError()), ("still running", None)]) == [
        "returned",
        "KeyError",
        "still running",
    ]


def test_run_together_reports_a_call_still_running():
    release = threading.Event()
    outcomes = run_together((release.wait, 5), (abs, -2), timeout=0.2)
    release.set()
    assert outcomes == [("still running", None), ("returned", 2)]
