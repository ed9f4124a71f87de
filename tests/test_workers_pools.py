"""The workers 03_process_pools adds to course.workers: a pool initializer, and a worker that dies."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import pytest

import course.workers
from course.workers import die_abruptly, read_setting, remember_setting


def test_setting_is_none_until_the_initializer_runs(monkeypatch):
    monkeypatch.setattr(course.workers, "worker_setting", None)
    assert read_setting(1)[:2] == (1, None)
    remember_setting("hello")
    x, setting, pid = read_setting(2)
    assert (x, setting) == (2, "hello")
    assert isinstance(pid, int)


def test_exported():
    for name in ("die_abruptly", "read_setting", "remember_setting"):
        assert name in course.workers.__all__


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_initializer_runs_in_every_pool_worker(method):
    context = multiprocessing.get_context(method)
    with context.Pool(1, initializer=remember_setting, initargs=("ready",)) as pool:
        got = pool.map(read_setting, [1, 2], chunksize=1)
    assert [(x, s) for x, s, _ in got] == [(1, "ready"), (2, "ready")]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_die_abruptly_breaks_a_process_pool_executor(method):
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(1, mp_context=context) as executor:
        future = executor.submit(die_abruptly, 3)
        with pytest.raises(BrokenProcessPool):
            future.result(timeout=30)
        with pytest.raises(BrokenProcessPool):
            executor.submit(read_setting, 1)
