"""course.queue_checks watches the queues an answer makes and leaves no thread waiting on them,
however the answer goes wrong; without a kernel."""

from __future__ import annotations

import queue
import threading
import time

import pytest

from course.queue_checks import call_watching_queues


def producer_consumer(items: list[int], consumers: int, task_done: bool = True, sentinels: bool = True) -> list[int]:
    tasks: queue.Queue[object] = queue.Queue(maxsize=4)
    results: dict[int, int] = {}
    stop = object()

    def consume() -> None:
        while True:
            task = tasks.get()
            if task is stop:
                tasks.task_done()
                return
            index, item = task  # type: ignore[misc]
            results[index] = item * 2
            if task_done:
                tasks.task_done()

    threads = [threading.Thread(target=consume, daemon=True) for _ in range(consumers)]
    for thread in threads:
        thread.start()
    for index, item in enumerate(items):
        tasks.put((index, item))
    tasks.join()
    if sentinels:
        for _ in threads:
            tasks.put(stop)
        for thread in threads:
            thread.join()
    return [results.get(index, -1) for index in range(len(items))]


def test_records_each_operation_of_the_queues_the_call_makes():
    outside: queue.Queue[int] = queue.Queue()  # made by the test, not the call: not watched
    got, queues, left = call_watching_queues(producer_consumer, [1, 2, 3], 2)
    outside.put(1)
    assert got == [2, 4, 6] and left == []
    [record] = queues
    assert record.cls is queue.Queue and record.maxsize == 4 and repr(record) == "Queue(maxsize=4)"
    assert (record.count("put"), record.count("get"), record.count("task_done"), record.count("join")) == (5, 5, 5, 1)
    assert len(record.threads("get")) == 2 and not record.join_gave_up


# The threads left waiting end by SystemExit, which Python's own threading.excepthook (the one a
# notebook kernel has) ignores without a word; pytest's hook reports it, so it is silenced here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_join_without_task_done_gives_up_and_the_threads_left_end_quietly():
    start = time.monotonic()
    got, queues, left = call_watching_queues(producer_consumer, [1, 2], 2, False, False, patience=0.2)
    assert time.monotonic() - start < 5
    assert got == [2, 4] and queues[0].join_gave_up == 2
    assert len(left) == 2
    for thread in left:
        thread.join(5)
        assert not thread.is_alive()


def test_priority_queues_are_watched_too():
    def by_priority(tasks: list[tuple[int, str]]) -> list[str]:
        q: queue.PriorityQueue[tuple[int, str]] = queue.PriorityQueue()
        for task in tasks:
            q.put(task)
        return [q.get()[1] for _ in tasks]

    got, queues, _ = call_watching_queues(by_priority, [(2, "b"), (1, "a")])
    assert got == ["a", "b"] and queues[0].cls is queue.PriorityQueue and queues[0].count("get") == 2


def test_what_the_call_raises_propagates():
    def broken() -> None:
        queue.Queue().put(1)
        raise KeyError("oops")

    with pytest.raises(KeyError):
        call_watching_queues(broken)


def test_a_call_that_hangs_fails_after_the_timeout_and_its_waits_end():
    def waits_forever() -> None:
        queue.Queue().get()  # nobody ever puts

    with pytest.raises(AssertionError, match=r"did not return within 0\.3 s"):
        call_watching_queues(waits_forever, timeout=0.3)
    assert not any(thread.name == "caller" and thread.is_alive() for thread in threading.enumerate())
