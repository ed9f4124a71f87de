"""course.pool_checks makes a thread-pool test's order, concurrency or timing certain: the answers
that race lose on every run, the right ones win at once, without a kernel."""

from __future__ import annotations

import math
import threading
import time
import timeit
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, as_completed, wait
from multiprocessing.pool import ThreadPool

import pytest

from course.net import HTTPStatusError, fetch
from course.pool_checks import (
    ExecutorWatch,
    GatedServer,
    LastDelivered,
    VirtualClock,
    threads_end,
    threads_left,
    watched_executors,
    watched_fetches,
)

# --- GatedServer -----------------------------------------------------------------------------


def test_server_answers_like_local_server():
    with GatedServer() as server:
        assert fetch(server.url("/page/1")) == b"/page/1"
        with pytest.raises(HTTPStatusError) as raised:
            fetch(server.url("/gone", status=404))
        assert raised.value.status == 404
        assert server.requests == 2 and server.arrived == ["/page/1", "/gone"]
        assert server.urls(2) == [server.url("/page/0"), server.url("/page/1")]


def test_held_request_outlasts_the_client_timeout_until_released():
    with GatedServer() as server:
        got = []
        thread = threading.Thread(target=lambda: got.append(fetch(server.url("/held", hold=math.inf), timeout=1)))
        thread.start()
        thread.join(2.5)  # more than twice the client's timeout: still held, still connected
        assert thread.is_alive() and not got
        server.release()
        thread.join(10)
        assert got == [b"/held"]


def test_hold_ends_by_itself_and_stop_answers_the_held():
    with GatedServer() as server:
        start = time.monotonic()
        assert fetch(server.url("/a", hold=0.3)) == b"/a"
        assert time.monotonic() - start >= 0.3
        executor = ThreadPoolExecutor(1)
        future = executor.submit(fetch, server.url("/forever", hold=math.inf))
        while not server.arrived[1:]:
            time.sleep(0.01)
    assert future.result(timeout=10) == b"/forever"  # leaving the block answered it
    executor.shutdown()


@pytest.mark.parametrize("workers", [2, 4])
def test_gather_makes_a_pool_run_its_workers_together(workers):
    with GatedServer(gather=workers) as server, ThreadPoolExecutor(workers) as executor:
        bodies = list(executor.map(fetch, server.urls(2 * workers)))
    assert bodies == [f"/page/{i}".encode() for i in range(2 * workers)]
    assert server.peak_in_flight == workers


def test_gather_slows_one_at_a_time_once_only():
    with GatedServer(gather=3, seconds=1.5) as server:
        start = time.monotonic()
        assert [fetch(url) for url in server.urls(4)] == [f"/page/{i}".encode() for i in range(4)]
        took = time.monotonic() - start
    assert server.peak_in_flight == 1
    # One wait is 1.5 s and one per request 6 s: 5 s tells them apart with 3.5 s to spare for
    # a busy machine (four local downloads take milliseconds).
    assert 1.5 <= took < 5, f"expected one wait of 1.5 s, not one per request: {took:.2f} s"


def test_first_done_is_the_quick_url_and_held_ones_stay_held():
    with GatedServer() as server:
        urls = [server.url("/slow", hold=math.inf), server.url("/quick"), server.url("/slow2", hold=math.inf)]
        executor = ThreadPoolExecutor(3)
        futures = {executor.submit(fetch, url): url for url in urls}
        done, not_done = wait(futures, timeout=10, return_when=FIRST_COMPLETED)
        assert [futures[f] for f in done] == [urls[1]] and len(not_done) == 2
        server.release()
        executor.shutdown()
    assert all(future.done() for future in futures)


# --- ExecutorWatch ---------------------------------------------------------------------------


def completion_order(chunks, workers):
    with ThreadPoolExecutor(max_workers=workers) as executor:
        futures = [executor.submit(len, chunk) for chunk in chunks]
        return [future.result() for future in as_completed(futures)]


def in_order(chunks, workers):
    with ThreadPoolExecutor(workers) as executor:
        return list(executor.map(len, chunks))


@pytest.mark.parametrize("run", range(5))
def test_first_task_finishes_last(run):
    chunks = ["a" * n for n in range(1, 7)]
    with ExecutorWatch(first_last=len(chunks)) as watch:
        got = completion_order(chunks, 3)
    assert got[-1] == 1 and sorted(got) == [1, 2, 3, 4, 5, 6]
    assert watch.made == [3] and watch.submitted == 6 and len(watch.threads) >= 2
    with ExecutorWatch(first_last=len(chunks)) as watch:
        assert in_order(chunks, 4) == [1, 2, 3, 4, 5, 6]
    assert watch.made == [4]


def test_executor_watch_records_default_workers_and_restores():
    plain_init, plain_submit = ThreadPoolExecutor.__init__, ThreadPoolExecutor.submit
    with ExecutorWatch() as watch:
        ThreadPoolExecutor().shutdown()
        ThreadPoolExecutor(2).shutdown()
    assert watch.made == [None, 2]
    assert ThreadPoolExecutor.__init__ is plain_init and ThreadPoolExecutor.submit is plain_submit


def test_a_single_worker_is_held_for_the_bound_only():
    with ExecutorWatch(first_last=2, seconds=0.3):
        start = time.monotonic()
        assert in_order(["a", "bb"], 1) == [1, 2]
    assert time.monotonic() - start >= 0.3


# --- LastDelivered ---------------------------------------------------------------------------


def through_pool(how, func, items):
    pool = ThreadPool(len(items))
    try:
        if how == "apply_async":
            arrived = []
            for item in items:
                pool.apply_async(func, (item,), callback=arrived.append)
            pool.close()
            pool.join()
            return arrived
        return list(getattr(pool, how)(func, items))
    finally:
        pool.close()
        pool.join()


@pytest.mark.parametrize(
    "how, in_order", [("imap_unordered", False), ("apply_async", False), ("map", True), ("imap", True)])
@pytest.mark.parametrize("run", range(3))
def test_last_delivered_reorders_only_completion_order_answers(how, in_order, run):
    items = [10, 11, 12, 13, 14]
    with LastDelivered(items[0], items[1:]) as held:
        got = through_pool(how, held, items)
    assert got == items if in_order else (sorted(got) == items and got[-1] == 10)
    assert held(99) == 99


# --- VirtualClock ----------------------------------------------------------------------------


def measure(executor_cls, func, items, workers):
    start = time.perf_counter()
    with executor_cls(max_workers=workers) as executor:
        list(executor.map(func, items))
    return time.perf_counter() - start


def measure_no_wait(executor_cls, func, items, workers):
    start = time.perf_counter()
    executor = executor_cls(max_workers=workers)
    for item in items:
        executor.submit(func, item)
    executor.shutdown(wait=False)
    return time.perf_counter() - start


def measure_polling(executor_cls, func, items, workers):
    start = timeit.default_timer()
    executor = executor_cls(workers)
    futures = [executor.submit(func, item) for item in items]
    while not all(future.done() for future in futures):
        time.sleep(0.001)
    executor.shutdown()
    return timeit.default_timer() - start


@pytest.mark.parametrize("run", range(3))
def test_virtual_clock_measures_exactly(run):
    clock = VirtualClock(together=4)
    with clock.installed({}):
        assert measure(clock.executor(startup=30.0, shutdown=10.0), clock.nap, [100.0] * 4, 4) == 140.0
    assert clock.made == [4] and len(clock.naps) == 4
    clock = VirtualClock()
    with clock.installed({}):
        assert measure(clock.executor(), clock.nap, [100.0] * 3, 1) == 300.0
        assert measure_polling(clock.executor(), clock.nap, [1.0, 2.0], 1) == 3.0
    assert time.perf_counter is not clock and timeit.default_timer is time.perf_counter


def test_virtual_clock_runs_no_task_before_something_waits():
    clock = VirtualClock(together=2)
    with clock.installed({}):
        assert measure_no_wait(clock.executor(startup=5.0), clock.nap, [100.0, 100.0], 2) == 5.0
        assert clock.naps == []
    deadline = time.monotonic() + 10
    while len(clock.naps) < 2 and time.monotonic() < deadline:  # leaving the block let them run
        time.sleep(0.01)
    assert len(clock.naps) == 2


def test_virtual_clock_replaces_aliases_in_a_namespace():
    namespace = {"perf_counter": time.perf_counter, "other": 1}
    clock = VirtualClock(start=50.0)
    with clock.installed(namespace):
        assert namespace["perf_counter"]() == 50.0 and time.perf_counter() == 50.0
        clock.advance(2.5)
        assert timeit.default_timer() == 52.5
    assert namespace["perf_counter"] is time.perf_counter and namespace["other"] == 1


def test_naps_that_never_overlap_wait_once():
    clock = VirtualClock(together=3, seconds=0.3)
    start = time.monotonic()
    assert clock.nap(1.0) == 1.0 and clock.nap(2.0) == 2.0
    assert clock() == 1003.0
    assert 0.3 <= time.monotonic() - start < 5


# --- watched_executors, watched_fetches, threads_left ----------------------------------------


def test_watched_executors_records_made_and_mapped_and_restores():
    plain_init, own_map = ThreadPoolExecutor.__init__, vars(ThreadPoolExecutor).get("map")
    with watched_executors() as (made, mapped):
        with ThreadPoolExecutor(max_workers=3) as executor:
            assert list(executor.map(abs, [-1, -2])) == [1, 2]
        with ThreadPoolExecutor(max_workers=2):
            pass
    assert made == [3, 2] and mapped == [3]
    assert ThreadPoolExecutor.__init__ is plain_init and vars(ThreadPoolExecutor).get("map") is own_map


def test_watched_fetches_records_calls_and_restores_names():
    import course.net

    namespace = {"fetch": fetch, "other": len}
    with GatedServer() as server, watched_fetches(namespace) as watch:
        good, bad = server.url("/a"), server.url("/b", status=404)
        assert namespace["fetch"] is watch and course.net.fetch is watch
        assert namespace["fetch"](good) == b"/a"
        with pytest.raises(HTTPStatusError):
            watch(bad)
    assert namespace == {"fetch": fetch, "other": len} and course.net.fetch is fetch
    assert watch.urls == [good, bad] and watch.outcomes[good] == [b"/a"]
    assert isinstance(watch.outcomes[bad][0], HTTPStatusError)
    assert watch.peak == 1 and watch.running == 0 and watch.threads == {threading.current_thread()}


def test_watched_fetches_count_threads_that_ran_one_after_another():
    """A thread that starts after another has ended often gets its ident: counting idents, a
    wrong first_done of 06 (a thread per url) was counted as one thread on 1 grading of 5."""
    with GatedServer() as server, watched_fetches({}) as watch:
        for path in ("/a", "/b", "/c"):
            thread = threading.Thread(target=watch, args=(server.url(path),))
            thread.start()
            thread.join(30)
    assert len(watch.threads) == 3, f"expected 3 threads, one per download; counted {len(watch.threads)}"


def test_threads_left_waits_for_new_threads_and_names_stragglers():
    before = set(threading.enumerate())
    go = threading.Event()
    quick = threading.Thread(target=time.sleep, args=(0.01,), name="quick")
    stuck = threading.Thread(target=go.wait, name="stuck")
    quick.start()
    stuck.start()
    try:
        assert threads_left(before, seconds=0.2) == ["stuck"]
    finally:
        go.set()
    assert threads_left(before) == []


def test_threads_end_waits_on_leaving_for_the_threads_started_in_the_block():
    started = []
    with threads_end():
        thread = threading.Thread(target=time.sleep, args=(0.05,), name="inside")
        thread.start()
        started.append(thread)
    assert not started[0].is_alive()
    go = threading.Event()
    stuck = threading.Thread(target=go.wait, name="stuck")
    try:
        begun = time.monotonic()
        with threads_end(seconds=0.2):
            stuck.start()
        assert stuck.is_alive() and time.monotonic() - begun >= 0.2  # it waited its bound, then let go
    finally:
        go.set()
        stuck.join()
