"""The local HTTP server and fetch: latency, many requests at once, status codes, refused
connections, and a shutdown that leaves no thread or socket behind.

Bounds on time here only catch something broken (a request served one after another, a
stop that waits out a delay): each is many times what a working server needs.
"""

from __future__ import annotations

import concurrent.futures as cf
import pickle
import socket
import threading

import psutil
import pytest

from course.net import HTTPStatusError, LocalServer, fetch, refused_url
from course.timing import Timer


def open_sockets() -> set[tuple[object, object]]:
    return {(c.laddr, c.raddr) for c in psutil.Process().net_connections(kind="inet")}


def test_body_and_per_request_delay():
    with LocalServer(delay=0.2) as server:
        with Timer() as quick:
            assert fetch(server.url("/quick", delay=0)) == b"/quick"
        with Timer() as slow:
            assert fetch(server.url("/page/3")) == b"/page/3"
        assert len(fetch(server.url("/big", size=100_000))) == 100_000
        assert fetch(server.url("/empty", size=0)) == b""
        assert server.requests == 4
    assert slow.seconds >= 0.2, f"the server's delay is 0.2 s, but the request took {slow.seconds:.3f} s"
    assert quick.seconds < slow.seconds


def test_many_requests_in_flight_at_once():
    """32 requests of 3 s each, from 32 threads: all wait at the same time. (With 0.5 s, the
    first were answered before the last had connected on a busy machine: 19 in flight at most.)"""
    with LocalServer(delay=3) as server:
        urls = server.urls(32)
        with Timer() as timer, cf.ThreadPoolExecutor(max_workers=32) as pool:
            bodies = list(pool.map(fetch, urls))
        assert bodies == [f"/page/{n}".encode() for n in range(32)]
        assert server.peak_in_flight == 32
        assert server.requests == 32
        server.reset_stats()
        assert (server.requests, server.peak_in_flight) == (0, 0)
    # One after another would take 96 s.
    assert timer.seconds < 30, (
        f"32 concurrent requests of 3 s took {timer.seconds:.1f} s: they were not served at once"
    )


@pytest.mark.parametrize("status", [400, 404, 418, 500, 503])
def test_error_status_raises(status):
    with LocalServer() as server:
        url = server.url("/broken", status=status)
        with pytest.raises(HTTPStatusError) as caught:
            fetch(url)
    error = caught.value
    assert (error.status, error.url) == (status, url)
    assert isinstance(error, OSError) and str(status) in str(error)
    copy = pickle.loads(pickle.dumps(error))  # a process pool sends it back to the parent
    assert (type(copy), copy.status, copy.url) == (HTTPStatusError, status, url)


def test_success_statuses_return_the_body():
    with LocalServer() as server:
        assert fetch(server.url("/made", status=201)) == b"/made"


def test_refused_connection():
    with pytest.raises(ConnectionRefusedError, match="nothing listens"):
        fetch(refused_url("/x"))
    with LocalServer() as server:
        url = server.url("/after")
    with pytest.raises(ConnectionRefusedError):
        fetch(url)  # the server has stopped


def test_timeout():
    with LocalServer() as server:
        with pytest.raises(TimeoutError, match=r"within 0\.2 s"):
            fetch(server.url("/slow", delay=30), timeout=0.2)


def test_only_loopback():
    for url in ["http://example.com/", "https://127.0.0.1/", "http://10.0.0.1:8000/", "ftp://localhost/", "file:///etc/passwd"]:
        with pytest.raises(ValueError, match="loopback"):
            fetch(url)


def test_proxies_are_not_used(monkeypatch):
    """A proxy named in the environment would take the request off the machine."""
    monkeypatch.setenv("http_proxy", refused_url())
    monkeypatch.setenv("HTTP_PROXY", refused_url())
    with LocalServer() as server:
        assert fetch(server.url("/direct")) == b"/direct"


def test_stop_wakes_waiting_requests_and_leaves_nothing_behind():
    threads, sockets = set(threading.enumerate()), open_sockets()
    server = LocalServer()
    server.start()
    pool = cf.ThreadPoolExecutor(max_workers=4)
    futures = [pool.submit(fetch, url) for url in server.urls(4, delay=60)]
    while server._running().in_flight < 4:
        threading.Event().wait(0.01)
    with Timer() as timer:
        server.stop()
    pool.shutdown(wait=True)
    # Waking them takes milliseconds; 30 s leaves room for a busy machine and is half their delay.
    assert timer.seconds < 30, f"stop() took {timer.seconds:.1f} s: it waited out the requests' 60 s delay"
    assert [f.result() for f in futures] == [f"/page/{n}".encode() for n in range(4)]
    # Only new threads count: a thread of another test in this worker may end meanwhile.
    assert set(threading.enumerate()) - threads == set(), "the server left threads behind"
    assert open_sockets() <= sockets, "the server left sockets open"
    server.stop()  # a second stop does nothing


def test_stop_hangs_up_on_connections_that_send_no_request(capfd):
    # Any program on the machine can connect to the server's port: a Jupyter client whose
    # kernel port number the system handed out again sends a ZeroMQ greeting, which has no
    # line end, and waits. stop() must not wait on such a connection's thread.
    threads = set(threading.enumerate())
    server = LocalServer()
    server.start()
    greeting = socket.create_connection(("127.0.0.1", server.port))
    greeting.sendall(b"\xff" + bytes(8) + b"\x01\x7f")
    silent = socket.create_connection(("127.0.0.1", server.port))
    pool = cf.ThreadPoolExecutor(max_workers=1)
    waiting = pool.submit(fetch, server.url("/real", delay=60))
    while server._running().in_flight < 1:
        threading.Event().wait(0.01)
    with Timer() as timer:
        server.stop()
    pool.shutdown(wait=True)
    # Hanging up takes milliseconds; without it, stop() waits for the handlers' 30 s read timeout.
    assert timer.seconds < 20, f"stop() took {timer.seconds:.1f} s: it waited on connections that sent no request"
    assert waiting.result() == b"/real", "the real request in flight was not answered"
    assert greeting.recv(16) == b"" and silent.recv(16) == b"", "the stray connections were not closed"
    greeting.close()
    silent.close()
    assert set(threading.enumerate()) - threads == set(), "the server left threads behind"
    assert capfd.readouterr().err == "", "the server wrote to stderr"


def test_misuse_says_how_to_fix_it():
    server = LocalServer()
    with pytest.raises(RuntimeError, match="not running"):
        server.url("/")
    with pytest.raises(ValueError, match="start with '/'"):
        with LocalServer() as running:
            running.url("page")
    with pytest.raises(ValueError, match="0 or more"):
        LocalServer(delay=-1)
    with LocalServer() as running:
        with pytest.raises(RuntimeError, match="already running"):
            running.start()
        with pytest.raises(ValueError, match="status"):
            running.url("/", status=99)
