"""course.async_checks bounds an asyncio answer, watches its downloads, blocking calls and process
pools, and makes the orders it judges certain: right answers pass at once, wrong ones lose on every run,
without a kernel (each test runs its own event loop with asyncio.run)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

import course.net
from course.async_checks import (
    BlockingCalls,
    bounded,
    children_left,
    start,
    until,
    watched_fetch_async,
    watched_process_pools,
)
from course.net import HTTPStatusError, LocalServer, fetch_async
from course.pool_checks import GatedServer
from course.workers import count_words

# --- bounded and start -------------------------------------------------------------------------


async def _double(x):
    await asyncio.sleep(0)
    return 2 * x


async def _sleeps(seconds):
    await asyncio.sleep(seconds)


async def _swallows_one_cancel():
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        pass  # the mistake: the first cancellation is swallowed
    await asyncio.sleep(10)


async def _raises():
    await asyncio.sleep(0)
    raise KeyError("inner")


def test_bounded_returns_the_result_and_raises_the_exception():
    async def main():
        assert await bounded(_double, 21) == 42
        with pytest.raises(KeyError, match="inner"):
            await bounded(_raises)

    asyncio.run(main())


def test_bounded_cancels_a_call_that_runs_too_long():
    async def main():
        call = start(_sleeps, 60)
        began = time.monotonic()
        with pytest.raises(AssertionError, match=r"_sleeps\(60\) did not finish within 0.2 s"):
            await call.result(0.2)
        assert time.monotonic() - began < 5
        assert await call.ended(5) == "cancelled"

    asyncio.run(main())


def test_an_answer_that_blocks_its_loop_costs_its_bound_not_the_kernel():
    """The answer runs in a loop of its own: time.sleep there leaves the test's loop free,
    and a second check of the same answer, while the first still runs, fails at once."""

    async def blocks():
        time.sleep(3)

    async def main():
        ticks = []
        ticker = asyncio.get_running_loop().call_later(0.05, ticks.append, 1)
        began = time.monotonic()
        with pytest.raises(AssertionError, match=r"blocks\(\) did not finish within 0.3 s"):
            await bounded(blocks, seconds=0.3)
        assert ticks == [1], "the test's own loop was blocked by the answer"
        with pytest.raises(AssertionError, match="was not called: an earlier call of it has been running"):
            await bounded(blocks)
        ticker.cancel()
        return time.monotonic() - began

    assert asyncio.run(main()) < 3, "the checks waited for the blocked answer"


def test_tasks_left_names_what_an_answer_left_running():
    async def leaves():
        asyncio.get_running_loop().create_task(asyncio.sleep(60), name="forgotten")
        return 1

    async def cancels():
        task = asyncio.get_running_loop().create_task(asyncio.sleep(60))
        task.cancel()
        return 2

    async def main():
        left, clean = start(leaves), start(cancels)
        assert (await left.result(), await clean.result()) == (1, 2)
        return await left.tasks_left(0.2), await clean.tasks_left(0.2)

    assert asyncio.run(main()) == (["sleep"], [])


def test_bounded_gives_up_on_a_task_that_swallows_cancellation():
    async def main():
        call = start(_swallows_one_cancel)
        began = time.monotonic()
        with pytest.raises(AssertionError, match="must let CancelledError propagate"):
            await call.result(0.1)
        assert time.monotonic() - began < 5  # 0.1 s, then the 2 s a cancelled task gets to end
        assert not call.done()
        call.cancel()  # the second cancellation goes through
        assert await call.ended(5) == "cancelled"

    asyncio.run(main())


def test_bounded_refuses_a_plain_function():
    async def main():
        with pytest.raises(AssertionError, match="expected an async def function"):
            await bounded(lambda: 1)

    asyncio.run(main())


def test_until_waits_without_blocking_the_loop():
    async def main():
        flag = []
        asyncio.get_running_loop().call_later(0.05, flag.append, 1)
        assert await until(lambda: flag, 5)
        assert not await until(lambda: False, 0.05)

    asyncio.run(main())


# --- watched_fetch_async ---------------------------------------------------------------------------


def test_watch_records_downloads_and_sees_those_left_running():
    async def main():
        namespace = {"fetch_async": fetch_async, "other": 1}
        with GatedServer() as server, watched_fetch_async(namespace) as watch:
            assert course.net.fetch_async is watch and namespace["fetch_async"] is watch
            held = server.url("/held", hold=8)
            left_behind = asyncio.ensure_future(namespace["fetch_async"](held))
            assert await namespace["fetch_async"](server.url("/a")) == b"/a"
            with pytest.raises(HTTPStatusError):
                await course.net.fetch_async(server.url("/gone", status=404))
            assert await watch.left_running(0.2) == [held]  # nobody cancelled it
            left_behind.cancel()
            assert await watch.left_running() == []
            assert watch.outcome(held) == "cancelled"
            assert watch.outcome(server.url("/a")) == b"/a"
            assert isinstance(watch.outcome(server.url("/gone", status=404)), HTTPStatusError)
            assert watch.peak == 2 and len(watch.urls) == 3
        assert course.net.fetch_async is fetch_async and namespace["fetch_async"] is fetch_async

    asyncio.run(main())


async def _gather_no_limit(urls, limit):
    return list(await asyncio.gather(*(course.net.fetch_async(url) for url in urls)))


async def _batches(urls, limit):
    bodies = []
    for i in range(0, len(urls), limit):
        bodies += await asyncio.gather(*(course.net.fetch_async(url) for url in urls[i:i + limit]))
    return bodies


async def _window(urls, limit):
    semaphore = asyncio.Semaphore(limit)

    async def one(url):
        async with semaphore:
            return await course.net.fetch_async(url)

    return list(await asyncio.gather(*(one(url) for url in urls)))


@pytest.mark.parametrize("answer, refilled", [(_window, True), (_batches, False)])
def test_a_held_download_tells_a_sliding_window_from_batches(answer, refilled):
    async def main():
        with GatedServer() as server, watched_fetch_async({}) as watch:
            urls = [server.url("/held", hold=8)] + [server.url(f"/next/{i}") for i in range(5)]
            call = start(answer, urls, 3)
            got = await until(lambda: len(watch.finished) >= 5, 1.0 if not refilled else 5)
            server.release()
            await call.result()
            return got, watch.peak

    got, peak = asyncio.run(main())
    assert got is refilled and peak == 3


def test_a_gathering_server_and_the_watch_count_the_limit():
    async def main(answer):
        with GatedServer(gather=3, seconds=1) as server, watched_fetch_async({}) as watch:
            await bounded(answer, server.urls(6), 3)
            return server.peak_in_flight, watch.peak

    # The server holds requests until 3 are in flight: a limit of 3 reaches 3 there, and the
    # watch sees no more than 3 calls at once. Gather without a limit starts all 6 calls in
    # one turn of the loop (the server may see only 3 of them at once: it answers the first
    # 3 as soon as they are there), and one at a time never reaches 3 at the server.
    assert asyncio.run(main(_window)) == (3, 3)
    assert asyncio.run(main(_gather_no_limit))[1] == 6
    assert asyncio.run(main(_one_at_a_time))[0] == 1


async def _one_at_a_time(urls, limit):
    return [await course.net.fetch_async(url) for url in urls]


# --- BlockingCalls -----------------------------------------------------------------------------------


def test_blocking_calls_meet_and_return_in_reverse_order_when_run_at_once():
    async def main():
        calls = BlockingCalls(["a", "b", "c"], seconds=5)
        got = await asyncio.gather(*(asyncio.to_thread(func) for func in calls.funcs))
        return calls, got

    calls, got = asyncio.run(main())
    assert got == ["a", "b", "c"] and calls.met and all(calls.loop_free)
    assert calls.order == [2, 1, 0] and calls.calls == [1, 1, 1]
    assert threading.get_ident() not in calls.threads


def test_blocking_calls_see_one_by_one_and_a_blocked_loop():
    async def one_by_one():
        calls = BlockingCalls([1, 2], seconds=0.2)
        got = [await asyncio.to_thread(func) for func in calls.funcs]
        return calls, got

    calls, got = asyncio.run(one_by_one())
    assert got == [1, 2] and not calls.met

    async def blocks_the_loop():
        calls = BlockingCalls([1, 2], seconds=3)  # 3 s for two threads to meet, even on a busy machine
        with ThreadPoolExecutor(2) as pool:
            got = list(pool.map(lambda func: func(), calls.funcs))
        return calls, got

    calls, got = asyncio.run(blocks_the_loop())
    assert got == [1, 2] and calls.met and not any(calls.loop_free)


# --- process pools -------------------------------------------------------------------------------------


def test_watched_pools_record_and_restore():
    namespace = {"ProcessPoolExecutor": ProcessPoolExecutor}
    plain_package = vars(concurrent.futures).get("ProcessPoolExecutor")

    async def main():
        before = set(multiprocessing.active_children())
        with watched_process_pools(namespace) as pools:
            pool = namespace["ProcessPoolExecutor"](1)
            assert isinstance(pool, ProcessPoolExecutor)
            loop = asyncio.get_running_loop()
            assert await loop.run_in_executor(pool, count_words, b"one two three") == 3
            pool.shutdown()
            assert await children_left(before, 10) == []
        return pools

    pools = asyncio.run(main())
    assert pools.made == [1] and pools.submitted == 1 and pools.shutdowns == 1
    assert namespace["ProcessPoolExecutor"] is ProcessPoolExecutor
    assert concurrent.futures.process.ProcessPoolExecutor is ProcessPoolExecutor
    assert vars(concurrent.futures).get("ProcessPoolExecutor") is plain_package


def test_children_left_lists_a_pool_not_shut_down():
    async def main():
        before = set(multiprocessing.active_children())
        pool = ProcessPoolExecutor(1)
        try:
            await asyncio.wrap_future(pool.submit(count_words, "a b"))
            return await children_left(before, 0.2)
        finally:
            pool.shutdown()

    assert len(asyncio.run(main())) == 1


def test_local_server_with_words_counts():
    async def main():
        with LocalServer() as server:
            return count_words(await fetch_async(server.url("/w", words=5)))

    assert asyncio.run(main()) == 5
