"""course.proc_checks makes a race or an order certain: the answers that race lose on every
run, the right ones win at once, under fork and spawn, without a kernel."""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import multiprocessing.process
import multiprocessing.queues
import multiprocessing.sharedctypes
import multiprocessing.synchronize
import pickle
import queue
import time
from multiprocessing.pool import ThreadPool

import pytest

import course.workers
from course.proc_checks import ForcedOrder, ForcedRace, HeldFloat, HeldInt
from course.workers import put_square, slow_identity, square

METHODS = ["fork", "spawn"]


# --- answers, as a student might write them (importable, for spawn) -------------------------


def add_locked(counter, lock, times):
    for _ in range(times):
        with lock:
            counter.value += 1


def add_unlocked(counter, lock, times):
    for _ in range(times):
        counter.value += 1


def add_read_outside(counter, lock, times):
    for _ in range(times):
        current = counter.value
        with lock:
            counter.value = current + 1


def add_lock_around_read(counter, lock, times):
    for _ in range(times):
        with lock:
            current = counter.value
        counter.value = current + 1


def parallel_count(ctx, target, processes, times, lock_each=False, join_each=False, read_early=False):
    counter, lock = ctx.Value("i", 0), ctx.Lock()
    adders = [ctx.Process(target=target, args=(counter, ctx.Lock() if lock_each else lock, times))
              for _ in range(processes)]
    if join_each:
        for adder in adders:
            adder.start()
            adder.join()
        return counter.value
    for adder in adders:
        adder.start()
    early = counter.value
    for adder in adders:
        adder.join()
    return early if read_early else counter.value


def squares_in_order(ctx, numbers):
    q = ctx.Queue()
    processes = [ctx.Process(target=put_square, args=(q, i, n)) for i, n in enumerate(numbers)]
    for process in processes:
        process.start()
    squares = [None] * len(numbers)
    for _ in numbers:
        index, value = q.get(timeout=30)
        squares[index] = value
    for process in processes:
        process.join()
    return squares


def squares_as_they_come(ctx, numbers):
    q = ctx.Queue()
    processes = [ctx.Process(target=put_square, args=(q, i, n)) for i, n in enumerate(numbers)]
    for process in processes:
        process.start()
    squares = [q.get(timeout=30)[1] for _ in numbers]
    for process in processes:
        process.join()
    return squares


def squares_one_at_a_time(ctx, numbers):
    q, squares = ctx.Queue(), []
    for i, n in enumerate(numbers):
        process = ctx.Process(target=put_square, args=(q, i, n))
        process.start()
        squares.append(q.get(timeout=30)[1])
        process.join()
    return squares


def squares_join_first(ctx, numbers):
    q = ctx.Queue()
    processes = [ctx.Process(target=put_square, args=(q, i, n)) for i, n in enumerate(numbers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    return [value for _, value in sorted(q.get(timeout=30) for _ in numbers)]


# --- the held values ---------------------------------------------------------------------


def test_held_values_pickle_and_compare_as_numbers():
    with ForcedOrder() as order:
        number, delay = order.held(7, after=1), order.held(0.5, after=1)
        assert isinstance(number, HeldInt) and number == 7 and number * number == 49  # no wait here
        assert isinstance(delay, HeldFloat) and delay == 0.5 and repr(delay) == "0.5"
        copy = pickle.loads(pickle.dumps(number))
        assert isinstance(copy, HeldInt) and copy == 7 and copy.gate.name == number.gate.name
        assert type(pickle.loads(pickle.dumps(delay))) is HeldFloat
        with pytest.raises(TypeError):
            order.held("7", after=1)


def test_a_gate_opens_when_the_folder_goes():
    with ForcedOrder(seconds=30) as order:
        gate = order.held(3, after=5).gate
        assert not gate.is_open()
    start = time.monotonic()
    gate.wait()
    # At once, not after the order's 30 s: generous for a busy machine.
    assert time.monotonic() - start < 10


def test_a_wait_is_bounded():
    with ForcedOrder(seconds=0.3) as order:
        gate = order.held(3, after=5).gate
        start = time.monotonic()
        gate.wait()
        assert 0.25 < time.monotonic() - start < 5


# --- ForcedOrder with processes and a queue -------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_queue_arrivals_are_forced(method):
    ctx = multiprocessing.get_context(method)
    for _ in range(3):
        with ForcedOrder() as order:
            assert squares_as_they_come(ctx, [order.held(3, after=2), 1, 2])[-1] == 9
        with ForcedOrder() as order:
            assert squares_as_they_come(ctx, [5, order.held(-4, after=3), 0, 5])[-1] == 16


@pytest.mark.parametrize("answer", [squares_in_order, squares_one_at_a_time, squares_join_first])
@pytest.mark.parametrize("method", METHODS)
def test_queue_answers_in_order_never_wait(method, answer):
    ctx = multiprocessing.get_context(method)
    start = time.monotonic()
    with ForcedOrder(seconds=30) as order:
        assert answer(ctx, [order.held(3, after=2), 1, 2]) == [9, 1, 4]
    assert time.monotonic() - start < 15, "a right answer waited for a hold's bound"


def replaced_attributes():
    """What ForcedOrder and ForcedRace replace, as the classes and modules hold them."""
    places = [
        (multiprocessing.queues.Queue, "get"), (multiprocessing.process.BaseProcess, "start"),
        (multiprocessing.process.BaseProcess, "join"), (multiprocessing.process.BaseProcess, "exitcode"),
        (multiprocessing.pool.Pool, "apply_async"), (multiprocessing.pool.Pool, "join"),
        (multiprocessing.pool.ApplyResult, "wait"), (multiprocessing.pool.IMapUnorderedIterator, "_set"),
        (multiprocessing.sharedctypes, "Value"), (multiprocessing.synchronize, "Lock"), (course.workers, "time"),
    ]  # fmt: skip
    return [vars(place).get(name) for place, name in places]


def test_patches_are_restored():
    before = replaced_attributes()
    with ForcedOrder():
        assert replaced_attributes() != before
    assert replaced_attributes() == before
    with ForcedRace(2):
        assert replaced_attributes() != before
    assert replaced_attributes() == before


# --- ForcedOrder with pools ----------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_pool_results_arrive_in_the_forced_order(method):
    ctx = multiprocessing.get_context(method)
    with ForcedOrder() as order:
        finished = []
        with ctx.Pool(2) as pool:
            results = [pool.apply_async(square, (n,), callback=finished.append)
                       for n in [order.held(11, after=3), 2, 3, 4]]
            assert [r.get(timeout=30) for r in results] == [121, 4, 9, 16]
        assert finished[-1] == 121
    with ForcedOrder() as order:
        with ctx.Pool(3) as pool:
            delays = [order.held(0.3, after=2), 0.05, order.held(0.1, after=1)]
            assert list(pool.imap_unordered(slow_identity, delays)) == [0.05, 0.1, 0.3]
            assert list(pool.imap(slow_identity, [order.held(0.2, after=3), 0.05])) == [0.2, 0.05]


@pytest.mark.parametrize("method", METHODS)
def test_a_pool_that_waits_for_the_held_task_is_served_at_once(method):
    ctx = multiprocessing.get_context(method)
    start = time.monotonic()
    with ForcedOrder(seconds=30) as order, ctx.Pool(2) as pool:
        assert [pool.apply(square, (n,)) for n in [order.held(5, after=2), 1, 2]] == [25, 1, 4]
        assert pool.apply_async(square, (order.held(6, after=9),)).get(timeout=20) == 36
    assert time.monotonic() - start < 15


def test_thread_pools_are_held_too():
    with ForcedOrder() as order, ThreadPool(3) as pool:
        delays = [order.held(0.3, after=2), 0.05, order.held(0.1, after=1)]
        assert list(pool.imap_unordered(slow_identity, delays)) == [0.05, 0.1, 0.3]


# --- ForcedRace ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_without_a_shared_lock_updates_are_always_lost(method):
    ctx = multiprocessing.get_context(method)
    answers = [(add_unlocked, {}), (add_read_outside, {}), (add_lock_around_read, {}),
               (add_locked, {"lock_each": True})]
    for target, options in answers:
        for processes, times in ((2, 200), (3, 500)):
            with ForcedRace(processes):
                got = parallel_count(ctx, target, processes, times, **options)
            assert got < processes * times, f"{target.__name__} {options}: no update was lost"


@pytest.mark.parametrize("method", METHODS)
def test_a_count_read_before_the_join_is_always_zero(method):
    with ForcedRace(3):
        assert parallel_count(multiprocessing.get_context(method), add_locked, 3, 100, read_early=True) == 0


@pytest.mark.parametrize("method", METHODS)
def test_with_a_shared_lock_nothing_is_lost_and_nobody_waits(method):
    ctx = multiprocessing.get_context(method)
    for options in ({}, {"join_each": True}):
        for processes, times in ((1, 0), (1, 50), (2, 200), (3, 500)):
            # A run that waited for the race's bound took at least its 30 s; one that did not
            # takes well under a second idle, and a few seconds when the suite's workers
            # crowd the CPUs (the whole loop once took 50 s under spawn, 14 process starts).
            start = time.monotonic()
            with ForcedRace(processes, seconds=30):
                assert parallel_count(ctx, add_locked, processes, times, **options) == processes * times
            took = time.monotonic() - start
            assert took < 30, f"a right answer waited for the bound: {processes} x {times} took {took:.1f} s"


def test_the_instrumented_value_and_lock_behave_like_real_ones():
    with ForcedRace(1):
        value = multiprocessing.Value("d", 1.5)
        assert value.value == 1.5
        value.value = 2.5
        with value.get_lock():
            assert value.get_obj().value == 2.5
        raw = multiprocessing.RawValue("i", 3)
        with pytest.raises(AttributeError):
            raw.get_lock()
        lock = multiprocessing.Lock()
        assert lock.acquire(timeout=1) and not lock.acquire(False)
        lock.release()
        rlock = multiprocessing.RLock()
        with rlock, rlock:
            pass
        q = multiprocessing.Queue()  # made with the instrumented locks inside
        q.put(1)
        assert q.get(timeout=5) == 1
        with pytest.raises(queue.Empty):
            q.get(timeout=0.05)
    assert type(multiprocessing.Value("i", 0)).__name__ == "Synchronized"


# --- calls_here --------------------------------------------------------------------------------


def test_calls_here_records_the_calls_made_in_this_process_and_restores():
    import math

    from course.proc_checks import calls_here

    real_math = course.workers.math
    with calls_here(course.workers, "math", "isqrt") as seen:
        assert course.workers.count_primes(10) == 4
        assert seen and all(isinstance(n, int) for n in seen)
        assert course.workers.math.isqrt(17) == math.isqrt(17)
    assert course.workers.math is real_math


@pytest.mark.parametrize("method", METHODS)
def test_calls_here_does_not_see_the_calls_of_pool_workers(method):
    from course.proc_checks import calls_here

    with calls_here(course.workers, "time", "sleep") as seen:
        with multiprocessing.get_context(method).Pool(1) as pool:
            assert pool.map(slow_identity, [0.01, 0.02]) == [0.01, 0.02]
        assert seen == []
        slow_identity(0.01)
        assert seen == [0.01]
