"""fetch_async against the local server: the same answers and errors as fetch, many
downloads at once in one thread, cancellation that leaves no connection open; the server's
word bodies and course.workers.count_words.

Bounds on time here only catch something broken (downloads one after another, a cancel
that waits out a delay): each is many times what working code needs.
"""

from __future__ import annotations

import asyncio
import pickle
import threading

import psutil
import pytest

from course.net import HTTPStatusError, LocalServer, fetch, fetch_async, refused_url
from course.timing import Timer
from course.workers import count_words


def open_sockets() -> set[tuple[object, object]]:
    return {(c.laddr, c.raddr) for c in psutil.Process().net_connections(kind="inet")}


def test_same_bodies_as_fetch():
    with LocalServer() as server:
        urls = [server.url("/quick"), server.url("/big", size=100_000), server.url("/empty", size=0),
                server.url("/text", words=500), server.url("/made", status=201)]
        assert [asyncio.run(fetch_async(url)) for url in urls] == [fetch(url) for url in urls]


def test_many_downloads_at_once_in_one_thread():
    """200 requests of 3 s from one thread: all wait at the same time. (With 0.5 s, the first
    were answered before the last had connected on a busy machine: 146 in flight at most.)"""
    threads = set(threading.enumerate())

    async def download_all(urls):
        return await asyncio.gather(*(fetch_async(url) for url in urls))

    with LocalServer(delay=3) as server:
        urls = server.urls(200)
        with Timer() as timer:
            bodies = asyncio.run(download_all(urls))
        assert bodies == [f"/page/{n}".encode() for n in range(200)]
        assert server.peak_in_flight == 200
    assert set(threading.enumerate()) - threads == set(), "fetch_async left threads running"
    # One after another would take 600 s.
    assert timer.seconds < 60, f"200 requests of 3 s took {timer.seconds:.1f} s: they were not in flight at once"


@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_error_status_raises(status):
    with LocalServer() as server:
        url = server.url("/broken", status=status)
        with pytest.raises(HTTPStatusError) as caught:
            asyncio.run(fetch_async(url))
    assert (caught.value.status, caught.value.url) == (status, url)
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.status, copy.url) == (status, url)


def test_refused_connection():
    with pytest.raises(ConnectionRefusedError, match="nothing listens"):
        asyncio.run(fetch_async(refused_url("/x")))


def test_timeout_is_for_the_whole_download():
    with LocalServer() as server:
        with Timer() as timer, pytest.raises(TimeoutError, match=r"within 0\.2 s"):
            asyncio.run(fetch_async(server.url("/slow", delay=30), timeout=0.2))
    assert timer.seconds < 10, f"a 0.2 s timeout took {timer.seconds:.1f} s"


def test_only_loopback():
    for url in ["http://example.com/", "https://127.0.0.1/", "ftp://localhost/", "file:///etc/passwd"]:
        with pytest.raises(ValueError, match="loopback"):
            asyncio.run(fetch_async(url))


def test_cancelling_closes_the_connection():
    async def cancel_one(url):
        task = asyncio.create_task(fetch_async(url))
        while server._running().in_flight < 1:  # connected, waiting for the answer
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return {raddr for _, raddr in open_sockets() if raddr and raddr[1] == server.port}

    with LocalServer() as server:
        with Timer() as timer:
            left_open = asyncio.run(cancel_one(server.url("/slow", delay=30)))
    assert left_open == set(), "the cancelled download left its connection open"
    assert timer.seconds < 10, f"cancelling took {timer.seconds:.1f} s: it waited for the answer"


def test_words_bodies_and_count_words():
    with LocalServer() as server:
        body = fetch(server.url("/w", words=1000))
        assert count_words(body) == 1000
        assert fetch(server.url("/w", words=0)) == b""
        with pytest.raises(ValueError, match="not both"):
            server.url("/w", words=3, size=10)
        with pytest.raises(ValueError, match="words"):
            server.url("/w", words=-1)
    assert count_words("two  words\n") == 2
    assert count_words(b" a\tb\nc ") == 3
    assert count_words("") == count_words(b"") == 0
    with pytest.raises(TypeError, match="bytes or str"):
        count_words(42)  # type: ignore[arg-type]
