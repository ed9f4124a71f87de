"""The tools of course.checks that 04_threads's test cells use, tested without a kernel."""

from __future__ import annotations

import threading
import time
import warnings

import pytest

from course.checks import (
    OLD_THREAD_API,
    allow_old_thread_api,
    explain_outcome,
    meet_at,
    new_threads,
    outcome,
    seconds_asked_to_wait,
    watched_names,
)


def old_calls() -> None:
    """Call each deprecated Thread method once."""
    thread = threading.Thread(target=print)
    thread.setName(thread.getName())
    thread.setDaemon(thread.isDaemon())


def test_the_old_methods_warn_without_it() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old_calls()
    assert [w.category for w in caught] == [DeprecationWarning] * 4


def test_it_silences_the_old_methods_only() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        allow_old_thread_api()
        old_calls()
        warnings.warn("another deprecation", DeprecationWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["another deprecation"]


def test_calling_it_twice_adds_one_filter() -> None:
    with warnings.catch_warnings():
        before = len(warnings.filters)
        allow_old_thread_api()
        allow_old_thread_api()
        ours = [f for f in warnings.filters if f[1] is not None and f[1].pattern == OLD_THREAD_API]
        assert len(ours) == 1
        assert len(warnings.filters) == before + 1


def test_the_pattern_matches_each_message() -> None:
    import re

    for old, new in (("getName", "name"), ("setName", "name"), ("isDaemon", "daemon"), ("setDaemon", "daemon")):
        assert re.match(OLD_THREAD_API, f"{old}() is deprecated, use the {new} attribute instead")


# The instruments of 04_threads's test cells.


def raise_in_a_thread_then(result: object) -> object:
    """Leave one exception unhandled in a thread, then return or raise ``result``."""
    thread = threading.Thread(target=lambda: 1 / 0)
    thread.start()
    thread.join()
    if isinstance(result, BaseException):
        raise result
    return result


def test_outcome_returned_and_raised(capsys: pytest.CaptureFixture[str]) -> None:
    hook = threading.excepthook
    assert outcome(raise_in_a_thread_then, 5) == ("returned", 5)
    error = KeyError("k")
    assert outcome(raise_in_a_thread_then, error) == ("raised", error)
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.count("threads left 1 exception(s) unhandled") == 2
    assert threading.excepthook is hook


def test_outcome_keeps_the_timeout_failure() -> None:
    with pytest.raises(AssertionError):
        outcome(time.sleep, 1.0, timeout=0.1)


def test_explain_outcome() -> None:
    expected = ValueError("inner")
    try:
        try:
            raise expected
        except ValueError as error:
            raise RuntimeError("outer") from error
    except RuntimeError as error:
        wrapped = error
    assert explain_outcome("returned", [1], expected) == "returned [1]"
    assert explain_outcome("raised", wrapped, expected) == "raised a new RuntimeError(outer) around it"
    assert explain_outcome("raised", KeyError("k"), expected) == "raised KeyError('k')"
    assert explain_outcome("raised", KeyError("k"), None) == "raised KeyError('k')"


def test_meet_at_meets_and_breaks() -> None:
    barrier = threading.Barrier(2, timeout=5)
    meet = meet_at(barrier)
    got: list[object] = []
    other = threading.Thread(target=lambda: got.append(meet("b")))
    other.start()
    got.append(meet("a"))
    other.join()
    assert sorted(got) == ["a", "b"]  # type: ignore[type-var]
    alone = meet_at(threading.Barrier(2, timeout=0.05))
    with pytest.raises(threading.BrokenBarrierError):
        alone("x")


def waits(joins: list[float], sleeps: list[float]) -> str:
    """Join a thread that sleeps 0.5 s once per timeout in ``joins``, then sleep ``sleeps``."""
    thread = threading.Thread(target=time.sleep, args=(0.5,), daemon=True)
    thread.start()
    for timeout in joins:
        thread.join(timeout)
    for seconds in sleeps:
        time.sleep(seconds)
    return "done"


def test_seconds_asked_to_wait_adds_join_timeouts_and_sleeps() -> None:
    plain_join, plain_sleep = threading.Thread.join, time.sleep
    got, asked = seconds_asked_to_wait(waits, [0.01, 0.02], [0.03])
    assert got == "done"
    assert asked == pytest.approx(0.06)
    assert threading.Thread.join is plain_join and time.sleep is plain_sleep


def test_seconds_asked_to_wait_counts_only_the_calling_thread() -> None:
    def join_without_timeout() -> None:
        helper = threading.Thread(target=time.sleep, args=(0.02,))
        helper.start()
        helper.join()  # the caller's join of a live thread: no timeout, so infinite

    def sleep_elsewhere() -> None:
        helper = threading.Thread(target=time.sleep, args=(0.02,))
        helper.start()
        while helper.is_alive():
            pass

    got, asked = seconds_asked_to_wait(join_without_timeout)
    assert got is None and asked == float("inf")
    _, asked = seconds_asked_to_wait(sleep_elsewhere)  # another thread's sleep
    assert asked == 0


def test_new_threads_reports_and_joins() -> None:
    def start_two() -> str:
        threading.Thread(target=time.sleep, args=(0.3,), daemon=True, name="bg-daemon").start()
        threading.Thread(target=time.sleep, args=(0.05,), name="bg-plain").start()
        return "started"

    got, new = new_threads(start_two)
    assert got == "started"
    names = {thread.name: thread for thread in new}
    assert set(names) == {"bg-daemon", "bg-plain"}
    assert not names["bg-plain"].is_alive()  # joined by new_threads
    assert names["bg-daemon"].daemon


def test_watched_names() -> None:
    def read_own() -> None:
        threading.current_thread().name  # noqa: B018

    with watched_names() as (own_reads, late_names):
        thread = threading.Thread(target=read_own, name="early")
        thread.start()
        thread.join()
        thread.name = "late"
        assert threading.Thread(target=print, name="other").name == "other"  # read from outside
    assert "early" in own_reads and "other" not in own_reads
    assert late_names == ["late"]
    assert isinstance(vars(threading.Thread)["name"], property)
    assert thread.name == "late"
