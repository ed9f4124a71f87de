"""course.workers' functions for 01_processes and 02_communication, run in this process and in a child."""

from __future__ import annotations

import multiprocessing
import os
import queue
from multiprocessing import shared_memory

from course import workers


def test_greet_into_names_this_process():
    q: queue.Queue[str] = queue.Queue()
    workers.greet_into(q, "Ada")  # type: ignore[arg-type]
    assert q.get_nowait() == f"Hello Ada, from pid {os.getpid()}"


def test_record_in_stores_the_value():
    shared: dict[str, int] = {}
    workers.record_in(shared, "a", 1)
    assert shared == {"a": 1}


def test_upper_shared_bytes_in_a_spawned_child():
    block = shared_memory.SharedMemory(create=True, size=16)
    try:
        block.buf[:5] = b"hello"
        p = multiprocessing.get_context("spawn").Process(target=workers.upper_shared_bytes, args=(block.name, 5))
        p.start()
        p.join(timeout=30)
        assert p.exitcode == 0
        assert bytes(block.buf[:5]) == b"HELLO"
    finally:
        block.close()
        block.unlink()


def test_double_shareable_in_place():
    items = shared_memory.ShareableList([1, 2, 3])
    try:
        workers.double_shareable(items.shm.name)
        assert list(items) == [2, 4, 6]
    finally:
        items.shm.close()
        items.shm.unlink()
