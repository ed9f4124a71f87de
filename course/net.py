"""A local HTTP server with chosen latency and status codes, and ``fetch`` / ``fetch_async`` to download from it."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import ipaddress
import socket
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from types import TracebackType

__all__ = ["HTTPStatusError", "LocalServer", "fetch", "fetch_async", "refused_url"]

# fetch() reaches these hosts only: the course downloads from its own server, so a notebook
# or a grader works offline and never sends a request off the machine.
_LOOPBACK_NAMES = ("localhost",)


class HTTPStatusError(OSError):
    """The server answered with an error status (400 or more)."""

    def __init__(self, url: str, status: int, reason: str = "") -> None:
        super().__init__(f"HTTP {status} {reason} for {url}".replace("  ", " "))
        self.url = url
        self.status = status
        self.reason = reason

    def __reduce__(self) -> tuple[type[HTTPStatusError], tuple[str, int, str]]:
        # OSError pickles its args, not our attributes; a process pool must be able to send
        # this error back to its parent intact.
        return (type(self), (self.url, self.status, self.reason))


def fetch(url: str, timeout: float = 10.0) -> bytes:
    """Download ``url`` and return its body.

    Raises ``HTTPStatusError`` when the server answers with a status of 400 or more,
    ``ConnectionRefusedError`` when nothing listens at the address, ``TimeoutError`` when no
    answer comes within ``timeout`` seconds, and ``ValueError`` for a URL that is not
    ``http://`` on the loopback address (127.0.0.1, ::1 or localhost).
    """
    _loopback_http(url)
    opener = _opener()
    try:
        with opener.open(url, timeout=timeout) as response:
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as error:
        error.close()
        raise HTTPStatusError(url, error.code, str(error.reason)) from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, ConnectionRefusedError):
            raise ConnectionRefusedError(f"nothing listens at {url} (connection refused)") from None
        if isinstance(error.reason, (TimeoutError, socket.timeout)):
            raise TimeoutError(f"no answer from {url} within {timeout} s") from None
        raise
    except TimeoutError:
        # A timeout while reading the body, after the headers came.
        raise TimeoutError(f"no answer from {url} within {timeout} s") from None


async def fetch_async(url: str, timeout: float = 10.0) -> bytes:
    """Download ``url`` without blocking the event loop, and return its body.

    Raises as ``fetch`` does: ``HTTPStatusError`` for a status of 400 or more,
    ``ConnectionRefusedError`` when nothing listens, ``TimeoutError`` when the whole
    download has not finished within ``timeout`` seconds, ``ValueError`` for a URL that is
    not ``http://`` on the loopback address. Cancelling it closes its connection.
    """
    parts = _loopback_http(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        async with asyncio.timeout(timeout):
            status, reason, body = await _get(host, port, target)
    except TimeoutError:
        raise TimeoutError(f"no answer from {url} within {timeout} s") from None
    except ConnectionRefusedError:
        raise ConnectionRefusedError(f"nothing listens at {url} (connection refused)") from None
    except asyncio.IncompleteReadError:
        raise ConnectionError(f"{url} closed the connection before its whole answer came") from None
    if status >= 400:
        raise HTTPStatusError(url, status, reason)
    return body


async def _get(host: str, port: int, target: str) -> tuple[int, str, bytes]:
    """One HTTP/1.0 GET on a connection of its own: (status, reason, body)."""
    # asyncio's streams, not a third-party client: HTTP/1.0 against the course's own server
    # needs a request line, a status line, the headers and the body, nothing more.
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"GET {target} HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode("ascii"))
        await writer.drain()
        status_line = (await reader.readline()).decode("latin-1")
        version, _, rest = status_line.partition(" ")
        code, _, reason = rest.strip().partition(" ")
        if not version.startswith("HTTP/") or not code.isdigit():
            raise ConnectionError(f"http://{host}:{port}{target} did not answer in HTTP ({status_line.strip()!r})")
        length = None
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length" and value.strip().isdigit():
                length = int(value)
        body = await reader.readexactly(length) if length is not None else await reader.read()
        return int(code), reason, body
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _loopback_http(url: str) -> urllib.parse.SplitResult:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not _is_loopback(parts.hostname):
        raise ValueError(
            f"fetch only downloads http:// URLs on this machine's loopback address, not {url!r}: "
            "start a course.net.LocalServer and use its url()"
        )
    return parts


def _opener() -> urllib.request.OpenerDirector:
    """An opener for plain http with no proxy.

    Assembled by hand rather than with ``build_opener``: that adds an HTTPS handler, whose
    default SSL context costs 30-40 ms on Python 3.12+ (more than a whole local download),
    and a ``ProxyHandler`` that reads ``http_proxy``, which could send the request to
    another machine. These four handlers cost microseconds.
    """
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def refused_url(path: str = "/") -> str:
    """A URL on 127.0.0.1 where nothing listens, so fetching it is refused.

    The port is one the system just handed out and took back; nothing else binds it in the
    moments a notebook or a test uses it.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 that answers after a delay, for downloads to measure.

    Use it as a context manager (``with LocalServer(delay=0.1) as server: ...``), or call
    ``start()`` and ``stop()``. Each request is answered in its own thread, so many can wait
    at once, as on a real web server. ``url(path, delay=..., status=..., size=...)`` makes a
    URL whose request waits ``delay`` seconds (default: the server's), is answered with
    ``status`` (default 200), and carries a body of the path's bytes (padded to ``size``
    bytes, or repeated as ``words`` words, when given). ``requests`` and
    ``peak_in_flight`` count what it has served.
    """

    def __init__(self, delay: float = 0.0) -> None:
        if not delay >= 0:
            raise ValueError(f"delay must be a number of seconds, 0 or more, not {delay!r}")
        self.delay = float(delay)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> LocalServer:
        """Bind a free port on 127.0.0.1 and start answering requests."""
        if self._httpd is not None:
            raise RuntimeError("the server is already running: call stop() before starting it again")
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.default_delay = self.delay
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="course.net server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering; wake requests still waiting out their delay; join every thread."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        httpd.stopping.set()  # requests sleeping on this event answer at once
        httpd.shutdown()  # ends serve_forever
        thread.join()
        httpd.hang_up_unread()  # connections that never sent a whole request line
        httpd.server_close()  # closes the socket and joins the request threads (block_on_close)
        self._httpd = self._thread = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"http://127.0.0.1:{self.port}" if self._httpd else "stopped"
        return f"<LocalServer {where} delay={self.delay:g}s>"

    # -- URLs -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return self._running().server_address[1]

    def url(self, path: str = "/", *, delay: float | None = None, status: int | None = None,
            size: int | None = None, words: int | None = None) -> str:
        """A URL on this server; ``delay``, ``status``, ``size`` and ``words`` set how it is answered.

        The body is the path's bytes; ``size`` pads it (the path repeated) to that many
        bytes, and ``words`` makes it that many words instead (the path repeated, one space
        between), for a body that takes counting.
        """
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', like '/page/1', not {path!r}")
        query = {}
        if delay is not None:
            if not delay >= 0:
                raise ValueError(f"delay must be 0 or more seconds, not {delay!r}")
            query["delay"] = f"{delay:g}"
        if status is not None:
            if not 200 <= status <= 599:
                raise ValueError(f"status must be an HTTP status code from 200 to 599, not {status!r}")
            query["status"] = str(status)
        if size is not None and words is not None:
            raise ValueError("give size or words, not both")
        if size is not None:
            if size < 0:
                raise ValueError(f"size must be 0 or more bytes, not {size!r}")
            query["size"] = str(size)
        if words is not None:
            if words < 0:
                raise ValueError(f"words must be 0 or more, not {words!r}")
            query["words"] = str(words)
        suffix = "?" + urllib.parse.urlencode(query) if query else ""
        return f"http://127.0.0.1:{self.port}{path}{suffix}"

    def urls(self, count: int, *, delay: float | None = None, status: int | None = None,
             size: int | None = None, words: int | None = None) -> list[str]:
        """``count`` URLs, ``/page/0`` to ``/page/<count-1>``, answered as ``url()`` says."""
        return [self.url(f"/page/{n}", delay=delay, status=status, size=size, words=words) for n in range(count)]

    # -- what it served -------------------------------------------------------------------

    @property
    def requests(self) -> int:
        """How many requests the server has answered since it started (or ``reset_stats()``)."""
        return self._running().answered

    @property
    def peak_in_flight(self) -> int:
        """The most requests the server was handling at one moment."""
        return self._running().peak

    def reset_stats(self) -> None:
        """Set ``requests`` and ``peak_in_flight`` back to 0."""
        httpd = self._running()
        with httpd.counter_lock:
            httpd.answered = 0
            httpd.peak = httpd.in_flight

    def _running(self) -> _Server:
        if self._httpd is None:
            raise RuntimeError(
                "the server is not running: use it inside 'with LocalServer() as server:' or call start()"
            )
        return self._httpd


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(http.server.ThreadingHTTPServer):
    # Join the request threads on close, so that stop() leaves no thread behind; a request
    # that is waiting out its delay is woken by `stopping`.
    daemon_threads = False
    block_on_close = True
    # The default backlog of 5 makes the 6th of many simultaneous connections wait for the
    # kernel's SYN retry (a second or more), which would spoil every measurement; 1,000
    # requests in flight at once (notebook 08) need room for all of them.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.default_delay = 0.0
        self.stopping = threading.Event()
        self.counter_lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.answered = 0
        self.unread: set[socket.socket] = set()  # connections whose request line has not come yet

    def handle_error(self, request: object, client_address: object) -> None:
        # A connection cut by its client (or by hang_up_unread) is no fault to report: the
        # base class prints a traceback to stderr, and a test cell that writes to stderr
        # gets no points.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    def hang_up_unread(self) -> None:
        """End the connections still waiting for a request line, so that joining their
        threads cannot wait on them. Anything on this machine can connect to the port: a
        kernel's ZeroMQ socket whose port number the system had handed out again connects
        and sends a greeting with no line end, then waits for an answer."""
        with self.counter_lock:
            waiting, self.unread = list(self.unread), set()
        for connection in waiting:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers after it
    # A client sends its request as soon as it has connected; a connection that sends no
    # request line within this time is not a client of ours, and its thread gives up on it.
    timeout = 30

    def setup(self) -> None:
        super().setup()
        with self.server.counter_lock:
            self.server.unread.add(self.connection)

    def parse_request(self) -> bool:
        with self.server.counter_lock:
            self.server.unread.discard(self.connection)
        return super().parse_request()

    def finish(self) -> None:
        with self.server.counter_lock:
            self.server.unread.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        server = self.server
        with server.counter_lock:
            server.in_flight += 1
            server.peak = max(server.peak, server.in_flight)
        try:
            self._answer()
        finally:
            self._done()

    def _done(self) -> None:
        # Counted before the answer is sent (and once only): a client that has its body must
        # find its request counted, and no longer in flight.
        if not self._counted:
            self._counted = True
            with self.server.counter_lock:
                self.server.in_flight -= 1
                self.server.answered += 1

    _counted = False

    def _answer(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        try:
            delay = float(query.get("delay", self.server.default_delay))
            status = int(query.get("status", 200))
            size = int(query["size"]) if "size" in query else None
            words = int(query["words"]) if "words" in query else None
        except ValueError:
            delay, status, size, words = 0.0, 400, None, None
        # Waiting on the event instead of time.sleep: stop() wakes every waiting request.
        self.server.stopping.wait(delay)
        body = parts.path.encode()
        if words is not None:
            body = ((body + b" ") * words)[:-1]  # bytes * n: 7 ms for 2M words, where join takes 150 ms
        elif size is not None:
            body = (body * (size // max(len(body), 1) + 1))[:size]
        self._done()
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (its timeout passed): nothing to answer

    def log_message(self, format: str, *args: object) -> None:
        # The base class logs each request to stderr, and nbgrader gives no points to a test
        # cell that writes to stderr: the server stays quiet.
        pass
