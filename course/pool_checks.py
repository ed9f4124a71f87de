"""Instruments that make a thread-pool test's order, concurrency or timing certain, so a grade never depends on load.

* :class:`GatedServer` is a local HTTP server (answered like :class:`course.net.LocalServer`)
  whose answers the test controls: a url made with ``hold=seconds`` is not answered until
  the test calls ``release()``, the server stops, or that many seconds pass, and the client
  is kept waiting without its socket timing out; with ``gather=n``, every request waits
  until ``n`` requests are in flight at once, so a pool of ``n`` threads certainly runs
  ``n`` downloads together, and a pool of fewer never reaches ``n``.
* :class:`ExecutorWatch` records each ``ThreadPoolExecutor`` made (the ``max_workers`` it
  was given) and, with ``first_last=n``, makes the first of ``n`` tasks submitted to an
  executor finish only after the other ``n - 1`` futures are done: an answer that returns
  results in completion order gets the same wrong order on every run.
* :class:`LastDelivered` does the same for a ``multiprocessing.pool.ThreadPool``: called on
  the first item, it returns only once the pool has handed every other item's result to
  the caller's side.
* :func:`watched_executors`, :class:`WatchedFetch` with :func:`watched_fetches`, and
  :func:`threads_left` watch an answer from outside: the executors it makes and maps with,
  each download it makes (url, thread, outcome, how many at once), and the threads it
  leaves running.
* :class:`VirtualClock` stands in for ``time.perf_counter``: it moves only when a test's naps,
  start-ups and shutdowns move it, by exact amounts, so a measured time is a function of the
  code that measured it, never of the machine's load.

Every wait is bounded (``seconds``), so an answer the instruments do not foresee is slowed,
never hung; a right answer never waits for a bound.
"""

from __future__ import annotations

import contextlib
import http.server
import inspect
import math
import multiprocessing.pool
import threading
import time
import timeit
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

import course.net

__all__ = [
    "ExecutorWatch",
    "GatedServer",
    "LastDelivered",
    "VirtualClock",
    "WatchedFetch",
    "threads_end",
    "threads_left",
    "watched_executors",
    "watched_fetches",
]

# How long an instrument waits at most for what it waits for. It is a safety net, not a
# timing: a right answer's wait ends as soon as its threads have done their share (well
# under a second, a few seconds on a very busy machine).
WAIT_SECONDS = 10.0
# A held request sends the client one byte of a header line this often, so that a client's
# socket timeout (course.net.fetch's default is 10 s) never fires while it is held.
_TRICKLE_SECONDS = 0.5
_POLL = 0.002  # seconds between two looks at the futures a held task waits for


class GatedServer:
    """A local HTTP server whose answers the test holds back and releases (see the module's docstring).

    A request for ``url(path, status=..., hold=...)`` is answered with ``status`` (default
    200) and the path's bytes as its body, as :class:`course.net.LocalServer` answers it.
    ``requests`` counts the requests answered, ``arrived`` lists their paths in the order
    they arrived, ``peak_in_flight`` is the most in flight at one moment.
    """

    def __init__(self, *, gather: int = 0, seconds: float = WAIT_SECONDS) -> None:
        self.gather = gather
        self.seconds = seconds
        self.arrived: list[str] = []
        self.requests = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self._gathered = gather <= 1
        self._released = False
        self._cond = threading.Condition()
        self._httpd: _GatedHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> GatedServer:
        httpd = _GatedHTTPServer(("127.0.0.1", 0), _GatedHandler)
        httpd.gate = self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="course.pool_checks server", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        """Answer every held request, stop, and join every thread of the server."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self.release()
        httpd.shutdown()
        thread.join()
        httpd.server_close()  # joins the request threads (block_on_close)
        self._httpd = self._thread = None

    def url(self, path: str = "/", *, status: int | None = None, hold: float = 0.0) -> str:
        """A url on this server; its request is held ``hold`` seconds at most (``math.inf``: until released)."""
        if self._httpd is None:
            raise RuntimeError("the server is not running: use it inside 'with GatedServer() as server:'")
        query = {}
        if status is not None:
            query["status"] = str(status)
        if hold:
            query["hold"] = "inf" if math.isinf(hold) else f"{hold:g}"
        suffix = "?" + urllib.parse.urlencode(query) if query else ""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{path}{suffix}"

    def urls(self, count: int, *, status: int | None = None, hold: float = 0.0) -> list[str]:
        """``count`` urls, ``/page/0`` to ``/page/<count-1>``."""
        return [self.url(f"/page/{n}", status=status, hold=hold) for n in range(count)]

    def release(self) -> None:
        """Answer every held request now, and every later one at once."""
        with self._cond:
            self._released = self._gathered = True
            self._cond.notify_all()

    # -- used by the request handler ------------------------------------------------------

    def _arrive(self, path: str) -> None:
        with self._cond:
            self.arrived.append(path)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            if self.in_flight >= self.gather:
                self._gathered = True
            self._cond.notify_all()

    def _ready(self, until: float) -> bool:
        """Whether a request that is held until ``until`` (monotonic) may be answered; call with the lock held."""
        return self._released or (self._gathered and time.monotonic() >= until)

    def _wait(self, hold: float, tick: Callable[[], object]) -> None:
        """Wait until the gather is complete (or ``seconds`` passed) and the hold is over; ``tick`` meanwhile."""
        now = time.monotonic()
        gather_deadline, until, ticked = now + self.seconds, now + hold, now
        with self._cond:
            while not self._ready(until):
                now = time.monotonic()
                if not self._gathered and now >= gather_deadline:
                    self._gathered = True  # an answer that never runs `gather` at once is slowed once only
                    continue
                deadline = until if self._gathered else gather_deadline
                self._cond.wait(max(0.0, min(ticked + _TRICKLE_SECONDS, deadline) - now))
                if time.monotonic() - ticked >= _TRICKLE_SECONDS:
                    ticked = time.monotonic()
                    self._cond.release()
                    try:
                        tick()
                    finally:
                        self._cond.acquire()

    def _leave(self) -> None:
        with self._cond:
            self.in_flight -= 1
            self.requests += 1
            self._cond.notify_all()


class _GatedHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    request_queue_size = 128
    gate: GatedServer


class _GatedHandler(http.server.BaseHTTPRequestHandler):
    server: _GatedHTTPServer
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        gate = self.server.gate
        parts = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        status = int(query.get("status", 200))
        hold = float(query.get("hold", 0))
        gate._arrive(parts.path)
        counted = False
        try:
            reason = self.responses.get(status, ("",))[0]
            self.wfile.write(f"HTTP/1.0 {status} {reason}\r\nX-Held: ".encode())
            gate._wait(hold, lambda: self.wfile.write(b"."))
            body = parts.path.encode()
            gate._leave()  # counted before the answer is sent: a client that has its body finds it counted
            counted = True
            self.wfile.write(b"\r\nContent-Type: application/octet-stream\r\n"
                             + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting
        finally:
            if not counted:
                gate._leave()

    def log_message(self, format: str, *args: object) -> None:
        pass  # nbgrader gives no points to a test cell that writes to stderr


class ExecutorWatch:
    """Inside ``with ExecutorWatch(first_last=n) as watch:``, watch every ``ThreadPoolExecutor``.

    ``watch.made`` lists the ``max_workers`` each one was given (``None`` when left out);
    ``watch.submitted`` counts the tasks submitted, ``watch.threads`` holds the threads that
    ran them. With ``first_last=n`` (and ``n > 1``),
    the first task submitted to each executor finishes only once ``n`` tasks have been
    submitted to it and the others' futures are done, or ``seconds`` have passed: it needs a
    pool of two threads or more, else it waits for the bound.
    """

    def __init__(self, first_last: int = 0, seconds: float = WAIT_SECONDS) -> None:
        self.first_last = first_last
        self.seconds = seconds
        self.made: list[int | None] = []
        self.submitted = 0
        self.threads: set[threading.Thread] = set()  # threads, not idents: an ended thread's ident is reused
        self._futures: dict[int, list[Future[Any]]] = {}
        self._executors: list[ThreadPoolExecutor] = []  # kept alive, so that no two share an id()
        self._lock = threading.Lock()
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> ExecutorWatch:
        real_init, real_submit = ThreadPoolExecutor.__init__, ThreadPoolExecutor.submit
        signature = inspect.signature(real_init)
        watch = self

        def init(executor: ThreadPoolExecutor, *args: Any, **kwargs: Any) -> None:
            bound = signature.bind(executor, *args, **kwargs)
            watch.made.append(bound.arguments.get("max_workers"))
            real_init(executor, *args, **kwargs)

        def submit(executor: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
            with watch._lock:
                watch.submitted += 1
                if id(executor) not in watch._futures:
                    watch._executors.append(executor)
                futures = watch._futures.setdefault(id(executor), [])
                first = not futures
            task = watch._held(fn, futures) if first and watch.first_last > 1 else watch._noted(fn)
            future = real_submit(executor, task, *args, **kwargs)
            with watch._lock:
                futures.append(future)
            return future

        self._stack.enter_context(_patched(ThreadPoolExecutor, __init__=init, submit=submit))
        return self

    def _noted(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def task(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.threads.add(threading.current_thread())
            return fn(*args, **kwargs)

        return task

    def _held(self, fn: Callable[..., Any], futures: list[Future[Any]]) -> Callable[..., Any]:
        noted = self._noted(fn)

        def first_task(*args: Any, **kwargs: Any) -> Any:
            try:
                return noted(*args, **kwargs)
            finally:
                deadline = time.monotonic() + self.seconds
                while time.monotonic() < deadline:
                    with self._lock:
                        others = futures[1:]
                    if len(others) >= self.first_last - 1 and all(f.done() for f in others):
                        break
                    time.sleep(_POLL)

        return first_task

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()


class LastDelivered:
    """``LastDelivered(first, others)`` is a function for a ``multiprocessing.pool.ThreadPool``
    test: called on ``first``, it returns ``first`` only once the pool has handed the result
    of every value in ``others`` to the caller's side (or ``seconds`` have passed); called on
    anything else, it returns it at once. Use it inside ``with`` (it watches the pool's result
    objects there): an answer that returns the results in the order they arrive certainly
    puts ``first`` last; one that keeps the items' order never notices."""

    def __init__(self, first: Any, others: list[Any], seconds: float = WAIT_SECONDS) -> None:
        self.first = first
        self.others = list(others)
        self.seconds = seconds
        self.delivered: list[Any] = []
        self._cond = threading.Condition()
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> LastDelivered:
        pool = multiprocessing.pool
        for cls in (pool.ApplyResult, pool.MapResult, pool.IMapIterator, pool.IMapUnorderedIterator):
            self._stack.enter_context(_patched(cls, _set=self._watching(vars(cls)["_set"])))
        return self

    def _watching(self, real_set: Callable[..., None]) -> Callable[..., None]:
        def _set(result: Any, i: Any, outcome: Any) -> None:
            real_set(result, i, outcome)
            success, value = outcome
            if success:
                with self._cond:
                    self.delivered.extend(value if isinstance(value, list) else [value])
                    self._cond.notify_all()

        return _set

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def __call__(self, item: Any) -> Any:
        if item == self.first:
            with self._cond:
                self._cond.wait_for(lambda: all(other in self.delivered for other in self.others), self.seconds)
        return item


class VirtualClock:
    """A stand-in for ``time.perf_counter`` that stands still unless the test moves it.

    ``installed(namespace)`` puts it in place of ``time.perf_counter``, of
    ``timeit.default_timer`` and of every name in ``namespace`` (the notebook's globals) bound
    to the real clock. ``nap(seconds)`` takes no real time and moves the clock ``seconds``
    forward from where it stood when the nap began; with ``together=n``, each nap first waits
    until ``n`` naps have begun (or ``seconds`` have passed), so ``n`` naps in ``n`` threads
    certainly overlap. ``executor(startup=..., shutdown=...)`` is a ``ThreadPoolExecutor``
    whose start-up and shutdown move the clock, and whose tasks run only once something waits
    for them (a future's ``result``, ``exception``, ``done``, ``add_done_callback``, ``wait``,
    ``as_completed``, or ``shutdown(wait=True)``): an answer that reads the clock before it
    waits certainly misses them.
    """

    def __init__(self, start: float = 1000.0, together: int = 1, seconds: float = WAIT_SECONDS) -> None:
        self.now = start
        self.together = together
        self.seconds = seconds
        self.naps: list[tuple[float, int]] = []  # (seconds, thread id) of each nap, in the order they ended
        self.made: list[int | None] = []  # max_workers of each executor() made
        self._begun = 0
        self._gathered = together <= 1
        self._cond = threading.Condition()
        self._go_events: list[threading.Event] = []

    def __call__(self) -> float:
        with self._cond:
            return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward."""
        with self._cond:
            self.now += seconds

    def nap(self, seconds: float) -> float:
        """Take no real time; move the clock to ``seconds`` after the nap began; return ``seconds``."""
        with self._cond:
            began = self.now
            self._begun += 1
            if self._begun >= self.together:
                self._gathered = True
                self._cond.notify_all()
            if not self._cond.wait_for(lambda: self._gathered, self.seconds):
                self._gathered = True  # naps that never overlap are slowed once only
            self.now = max(self.now, began + seconds)
            self.naps.append((seconds, threading.get_ident()))
        return seconds

    @contextlib.contextmanager
    def installed(self, namespace: dict[str, Any]) -> Iterator[VirtualClock]:
        """Inside the block, this clock is ``time.perf_counter`` and its aliases; afterwards every
        task of its executors may run."""
        real = time.perf_counter
        names = {name: self for name, value in list(namespace.items()) if value is real}
        try:
            with contextlib.ExitStack() as stack:
                stack.enter_context(_patched(time, perf_counter=self))
                if timeit.default_timer is real:
                    stack.enter_context(_patched(timeit, default_timer=self))
                stack.enter_context(_patched_items(namespace, names))
                yield self
        finally:
            for go in self._go_events:
                go.set()

    def executor(self, *, startup: float = 0.0, shutdown: float = 0.0) -> type[ThreadPoolExecutor]:
        """A ThreadPoolExecutor class whose start-up and shutdown take this clock's ``startup`` and ``shutdown`` s."""
        clock = self

        class VirtualPool(ThreadPoolExecutor):
            """A ThreadPoolExecutor on a virtual clock (see VirtualClock.executor)."""

            def __init__(self, max_workers: int | None = None, *args: Any, **kwargs: Any) -> None:
                clock.made.append(max_workers)
                self._go = threading.Event()
                clock._go_events.append(self._go)
                super().__init__(max_workers, *args, **kwargs)
                clock.advance(startup)

            def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
                go, bound = self._go, clock.seconds

                def task(*call_args: Any, **call_kwargs: Any) -> Any:
                    go.wait(bound)
                    return fn(*call_args, **call_kwargs)

                future = super().submit(task, *args, **kwargs)
                _wake_on_wait(future, go)
                return future

            def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
                if wait:
                    self._go.set()
                super().shutdown(wait=wait, cancel_futures=cancel_futures)
                clock.advance(shutdown)

        return VirtualPool


class _WakingList(list[Any]):
    """A future's list of waiters that sets ``go`` when ``wait`` or ``as_completed`` adds one."""

    go: threading.Event

    def append(self, item: Any) -> None:
        self.go.set()
        super().append(item)


def _wake_on_wait(future: Future[Any], go: threading.Event) -> None:
    """Make every way of waiting for ``future`` set ``go`` first."""
    for name in ("result", "exception", "done", "add_done_callback"):
        method = getattr(future, name)

        def waking(*args: Any, _method: Callable[..., Any] = method, **kwargs: Any) -> Any:
            go.set()
            return _method(*args, **kwargs)

        setattr(future, name, waking)
    waiters = _WakingList(future._waiters)
    waiters.go = go
    future._waiters = waiters


@contextlib.contextmanager
def _patched(target: Any, **values: Any) -> Iterator[None]:
    """Give ``target`` these attributes for the block; then restore (or remove) them."""
    saved = {name: (name in vars(target), vars(target).get(name)) for name in values}
    try:
        for name, value in values.items():
            setattr(target, name, value)
        yield
    finally:
        for name, (own, value) in saved.items():
            if own:
                setattr(target, name, value)
            else:
                delattr(target, name)


@contextlib.contextmanager
def _patched_items(namespace: dict[str, Any], values: dict[str, Any]) -> Iterator[None]:
    saved = {name: namespace[name] for name in values}
    namespace.update(values)
    try:
        yield
    finally:
        namespace.update(saved)


@contextlib.contextmanager
def watched_executors() -> Iterator[tuple[list[int], list[int]]]:
    """Inside the block, list the max_workers of each ThreadPoolExecutor made, and of each one whose map is called."""
    made: list[int] = []
    mapped: list[int] = []
    plain_init, plain_map = ThreadPoolExecutor.__init__, ThreadPoolExecutor.map

    # _max_workers is private, but nothing public tells how many threads an executor may start.
    def init(self: ThreadPoolExecutor, *args: Any, **kwargs: Any) -> None:
        plain_init(self, *args, **kwargs)
        made.append(self._max_workers)

    def map_(self: ThreadPoolExecutor, *args: Any, **kwargs: Any) -> Any:
        mapped.append(self._max_workers)
        return plain_map(self, *args, **kwargs)

    with _patched(ThreadPoolExecutor, __init__=init, map=map_):
        yield made, mapped


class WatchedFetch:
    """A stand-in for course.net.fetch that calls it and records each call.

    It records the url, the thread, what the call returned or raised, and how many calls ran at once.
    """

    def __init__(self) -> None:
        self.plain = course.net.fetch
        self.urls: list[str] = []  # the url of each call, in call order
        self.outcomes: dict[str, list[Any]] = {}  # url -> what each call of it returned or raised
        # The threads that called it: Thread objects, not idents, since a new thread often gets the
        # ident of one that has ended (two downloads one after another in two threads counted as one).
        self.threads: set[threading.Thread] = set()
        self.running = self.peak = 0
        self._lock = threading.Lock()

    def __call__(self, url: str, *args: Any, **kwargs: Any) -> bytes:
        with self._lock:
            self.urls.append(url)
            self.threads.add(threading.current_thread())
            self.running += 1
            self.peak = max(self.peak, self.running)
        outcome: Any = None
        try:
            outcome = self.plain(url, *args, **kwargs)
            return outcome
        except BaseException as error:
            outcome = error
            raise
        finally:
            with self._lock:
                self.running -= 1
                self.outcomes.setdefault(url, []).append(outcome)


@contextlib.contextmanager
def watched_fetches(namespace: dict[str, Any]) -> Iterator[WatchedFetch]:
    """Inside the block, course.net.fetch is a WatchedFetch, and so is every name in ``namespace``
    (the notebook's globals) that refers to it."""
    watch = WatchedFetch()
    names = [name for name, value in list(namespace.items()) if value is watch.plain]
    with _patched(course.net, fetch=watch), _patched_items(namespace, dict.fromkeys(names, watch)):
        yield watch


def threads_left(before: set[threading.Thread], seconds: float = 5.0) -> list[str]:
    """Wait, at most ``seconds`` in all, for the threads started since ``before`` to end.

    Return the names of those still running."""
    deadline = time.monotonic() + seconds
    new = [thread for thread in threading.enumerate() if thread not in before]
    for thread in new:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [thread.name for thread in new if thread.is_alive()]


@contextlib.contextmanager
def threads_end(seconds: float = 5.0) -> Iterator[None]:
    """On leaving the block, wait (at most ``seconds``) for the threads started in it to end,
    so that a test's threads do not run on into the next one. A block left by an exception
    does not wait: the test has failed already."""
    before = set(threading.enumerate())
    yield
    threads_left(before, seconds)
