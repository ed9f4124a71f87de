"""Asyncio against threads for waiting, and a download-and-count pipeline against its stages one after the other.

Run from the repository root, with the course's environment:

    .venv/bin/python benchmarks/async_and_pipeline.py            # about a minute and a half
    .venv/bin/python benchmarks/async_and_pipeline.py --quick    # a few seconds, to try it

The local HTTP server (``course.net.LocalServer``) runs in a process of its own, started
with spawn, so its threads (one per request) cost the clients measured here nothing but
CPU time. Three measurements, each repeated and reported as each run and the median:

1. Downloads: 128 pages, each answered after 0.1 s, fetched by 1 thread (``course.net.fetch``
   in a loop), by a ``ThreadPoolExecutor`` of 32 threads and by asyncio tasks
   (``course.net.fetch_async``) of which an ``asyncio.Semaphore(32)`` lets 32 wait at once.
   Both wait 32 at a time, so both should be close to 32x faster than 1 thread (expect at
   least 16x), and within about 20% of each other: neither computes much, both wait.
2. 1,000 requests in flight at once, each answered after 1 s: a ``ThreadPoolExecutor`` of
   1,000 threads against 1,000 asyncio tasks, each in a fresh client process (spawn), so
   that the memory it reports is its own. Both take about 1 s plus the time the server
   needs to take 1,000 connections (it starts a thread for each: most of a second on 2
   CPUs), the same for both. Threads cost one OS thread each: tens of kilobytes of
   resident memory per request and, on Linux, a stack of virtual memory (``ulimit -s``,
   usually 8 MB) reserved per thread, touched only as far as it is used; a task is a few
   kilobytes of Python objects, and the client stays one thread.
3. A pipeline: 20 bodies of many words are downloaded with asyncio (two at a time, so that
   the download stage takes about as long as the counting stage) and counted with
   ``course.workers.count_words`` in a ``ProcessPoolExecutor(2)``, each count starting as
   its body arrives; against the same work in two stages, all downloads, then all counts.
   With stages of equal length the pipeline overlaps them, so the ideal is 2x; expect at
   least 1.4x: the two CPUs that count are also the ones the server and the client need
   to make, send, read and hand over megabytes of body, so the stages are not independent.
   A ``course.timeline.Timeline`` records each download and each count, and the overlap of
   the two stages is printed: 0 for the stages one after the other, most of the counting
   for the pipeline.

Run it on an otherwise idle machine: other busy processes slow the counting and the
server's threads, and lower the ratios. ``--part 3`` runs one measurement only.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures as cf
import gc
import multiprocessing
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

import psutil  # type: ignore[import-untyped]

from course import workers
from course.cpus import usable_cpu_count
from course.net import LocalServer, fetch, fetch_async
from course.timeline import Timeline
from course.timing import Timer

SPAWN = multiprocessing.get_context("spawn")


# -- the server, in a process of its own ------------------------------------------------------


def serve(delay: float, conn: Connection) -> None:
    """Run in the server process: a LocalServer answering the parent's requests over ``conn``."""
    with LocalServer(delay=delay) as server:
        conn.send(server.port)
        while (message := conn.recv()) != "stop":
            command, arguments = message
            if command == "urls":
                conn.send(server.urls(**arguments))
            elif command == "url":
                conn.send(server.url(**arguments))
            elif command == "stats":
                conn.send((server.requests, server.peak_in_flight))
                server.reset_stats()


class RemoteServer:
    """A LocalServer in a child process: ``urls(...)`` and ``url(...)`` as LocalServer's;
    ``stats()`` returns (requests answered, most in flight at once) and starts counting again."""

    def __init__(self, delay: float = 0.0) -> None:
        self._conn, child_end = SPAWN.Pipe()
        self._process = SPAWN.Process(target=serve, args=(delay, child_end), name="benchmark server", daemon=True)

    def __enter__(self) -> RemoteServer:
        self._process.start()
        if not self._conn.poll(60):
            raise RuntimeError("the server process did not start within 60 s")
        self._conn.recv()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._conn.send("stop")
        self._process.join(timeout=60)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def _ask(self, command: str, **arguments: Any) -> Any:
        self._conn.send((command, arguments))
        return self._conn.recv()

    def urls(self, count: int, **arguments: Any) -> list[str]:
        return list(self._ask("urls", count=count, **arguments))

    def url(self, path: str, **arguments: Any) -> str:
        return str(self._ask("url", path=path, **arguments))

    def stats(self) -> tuple[int, int]:
        requests, peak = self._ask("stats")
        return int(requests), int(peak)


# -- 1. the same downloads three ways -------------------------------------------------------


def one_thread(urls: list[str]) -> list[bytes]:
    return [fetch(url) for url in urls]


def thread_pool(urls: list[str], threads: int) -> list[bytes]:
    with cf.ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(fetch, urls, timeout=120))


async def gather_limited(urls: list[str], at_once: int) -> list[bytes]:
    gate = asyncio.Semaphore(at_once)

    async def download(url: str) -> bytes:
        async with gate:
            return await fetch_async(url, timeout=120)

    return list(await asyncio.gather(*(download(url) for url in urls)))


def downloads(server: RemoteServer, pages: int, at_once: int, repeats: int) -> str:
    urls = server.urls(pages)
    expected = [f"/page/{n}".encode() for n in range(pages)]
    ways: dict[str, Callable[[], list[bytes]]] = {
        "1 thread": lambda: one_thread(urls),
        f"{at_once} threads": lambda: thread_pool(urls, at_once),
        f"asyncio, {at_once} at once": lambda: asyncio.run(gather_limited(urls, at_once)),
    }
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(repeats):
        for name, way in ways.items():
            with Timer() as timer:
                bodies = way()
            assert bodies == expected, f"{name}: the downloads came back wrong"
            seconds[name].append(timer.seconds)
        print("  " + ", ".join(f"{name} {values[-1]:.2f} s" for name, values in seconds.items()))
    serial = statistics.median(seconds["1 thread"])
    for name, values in seconds.items():
        median = statistics.median(values)
        print(f"  {name:<26} median {median:6.2f} s  {serial / median:6.1f}x  (each: "
              f"{' '.join(f'{value:.2f}' for value in values)})")
    threads, tasks = (statistics.median(values) for values in list(seconds.values())[1:])
    print(f"  asyncio over {at_once} threads: {threads / tasks:.2f}x (1.0x: the same)")
    return f"{at_once} threads {serial / threads:.1f}x, asyncio {serial / tasks:.1f}x over 1 thread"


# -- 2. 1,000 in flight ---------------------------------------------------------------------


@dataclass
class Flood:
    seconds: float
    peak_threads: int
    threads_before: int
    rss_growth: int  # bytes, peak resident set during the run minus before it
    vms_growth: int  # bytes of virtual memory, likewise


def flood(kind: str, urls: list[str]) -> Flood:
    """Run in a fresh client process: every url at once, by threads or by asyncio tasks."""
    process = psutil.Process()
    stop = threading.Event()
    peaks = {"rss": 0, "vms": 0, "threads": 0}

    def sample() -> None:  # one thread of its own, counted in the baseline below
        while True:
            memory = process.memory_info()
            peaks["rss"] = max(peaks["rss"], memory.rss)
            peaks["vms"] = max(peaks["vms"], memory.vms)
            peaks["threads"] = max(peaks["threads"], process.num_threads())
            if stop.wait(0.005):
                return

    sampler = threading.Thread(target=sample, name="sampler", daemon=True)
    gc.collect()
    sampler.start()
    time.sleep(0.05)
    before = process.memory_info()
    threads_before = process.num_threads()
    peaks.update(rss=before.rss, vms=before.vms, threads=threads_before)
    with Timer() as timer:
        if kind == "threads":
            bodies = thread_pool(urls, len(urls))
        else:
            bodies = asyncio.run(gather_limited(urls, len(urls)))
    stop.set()
    sampler.join()
    assert len(bodies) == len(urls) and all(bodies), f"{kind}: the downloads came back wrong"
    return Flood(timer.seconds, peaks["threads"], threads_before, peaks["rss"] - before.rss, peaks["vms"] - before.vms)


def warm_up() -> None:
    """Nothing: calling it makes a client process start, and import this module and what it
    imports, before a flood is timed there."""


def in_flight(server: RemoteServer, requests: int, delay: float, repeats: int) -> str:
    urls = server.urls(requests, delay=delay)
    results: dict[str, list[Flood]] = {"threads": [], "asyncio": []}
    for _ in range(repeats):
        for kind, runs in results.items():
            with cf.ProcessPoolExecutor(max_workers=1, mp_context=SPAWN) as client:
                client.submit(warm_up).result(timeout=60)  # started, and has imported this module
                run = client.submit(flood, kind, urls).result(timeout=300)
            answered, peak = server.stats()
            assert answered == requests, f"{kind}: the server answered {answered} of {requests} requests"
            runs.append(run)
            print(f"  {kind:<8} {run.seconds:5.2f} s, {run.peak_threads:5} threads at most "
                  f"({run.threads_before} before), resident +{run.rss_growth / 2**20:6.1f} MiB, "
                  f"virtual +{run.vms_growth / 2**20:7.1f} MiB; the server had {peak} requests in flight at once")
    medians: dict[str, dict[str, float]] = {}
    for kind, runs in results.items():
        medians[kind] = {
            "seconds": statistics.median(run.seconds for run in runs),
            "threads": statistics.median(run.peak_threads - run.threads_before for run in runs),
            "rss": statistics.median(run.rss_growth for run in runs),
            "vms": statistics.median(run.vms_growth for run in runs),
        }
        m = medians[kind]
        print(f"  {kind:<8} median {m['seconds']:5.2f} s; +{m['threads']:.0f} threads; per request: "
              f"{m['rss'] / requests / 1024:7.1f} KiB resident, {m['vms'] / requests / 1024:8.1f} KiB virtual")
    threads, tasks = medians["threads"], medians["asyncio"]
    print(f"  threads over asyncio: {threads['seconds'] / tasks['seconds']:.2f}x the time, "
          f"{threads['rss'] / max(tasks['rss'], 1):.1f}x the resident memory growth, "
          f"{threads['vms'] / max(tasks['vms'], 1):.1f}x the virtual memory growth")
    print(f"  a thread's stack: {threading.stack_size() or 'the platform default'}"
          + (f" (ulimit -s {_stack_limit()})" if _stack_limit() else "")
          + "; virtual memory counts the stacks and malloc's per-thread arenas: reserved, mostly never touched")
    return (f"{threads['seconds']:.2f} s with threads, {tasks['seconds']:.2f} s with asyncio; per request "
            f"{threads['rss'] / requests / 1024:.0f} KiB against {tasks['rss'] / requests / 1024:.0f} KiB resident")


def _stack_limit() -> str:
    try:
        import resource
    except ImportError:  # not on Windows
        return ""
    soft, _ = resource.getrlimit(resource.RLIMIT_STACK)
    return "unlimited" if soft == resource.RLIM_INFINITY else f"{soft // 1024} KiB"


# -- 3. the pipeline ------------------------------------------------------------------------


def words_for(seconds: float, pool: cf.Executor) -> int:
    """How many words (bodies as the server makes them for a path like '/7') take
    count_words about ``seconds`` to count in ``pool``'s 2 workers counting at once,
    measured there: a count there also pays for the memory its words take, and shares the
    memory bandwidth with the other, so it is slower than one count in this process."""
    sample = 500_000
    for _ in range(2):  # first estimate, then measured again at about the size it will count
        body = b" ".join([b"/7"] * sample)
        taken = []
        for _ in range(2):
            for count, start, end in pool.map(workers.timed_count_words, [body, body], timeout=120):
                assert count == sample
                taken.append(end - start)
        words = max(1000, round(sample * seconds / min(taken)))  # the least disturbed of 4
        sample = words
    return words


async def one_after_the_other(urls: list[str], pool: cf.Executor, at_once: int, timeline: Timeline) -> list[int]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(at_once)

    async def download(n: int, url: str) -> bytes:
        async with gate:
            with timeline.span("download", str(n)):
                return await fetch_async(url, timeout=120)

    bodies = await asyncio.gather(*(download(n, url) for n, url in enumerate(urls)))
    counted = await asyncio.gather(*(loop.run_in_executor(pool, workers.timed_count_words, body) for body in bodies))
    for n, (_, start, end) in enumerate(counted):
        timeline.add("count", str(n), start, end)
    return [count for count, _, _ in counted]


async def pipeline(urls: list[str], pool: cf.Executor, at_once: int, timeline: Timeline) -> list[int]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(at_once)

    async def download_and_count(n: int, url: str) -> int:
        async with gate:
            with timeline.span("download", str(n)):
                body = await fetch_async(url, timeout=120)
        count, start, end = await loop.run_in_executor(pool, workers.timed_count_words, body)
        timeline.add("count", str(n), start, end)
        return count

    return list(await asyncio.gather(*(download_and_count(n, url) for n, url in enumerate(urls))))


def pipelines(server: RemoteServer, bodies: int, delay: float, count_seconds: float, at_once: int,
              repeats: int) -> str:
    ways = {"one after the other": one_after_the_other, "pipeline": pipeline}
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    overlaps: dict[str, list[float]] = {name: [] for name in ways}
    stages: dict[str, list[float]] = {"download": [], "count": []}
    with cf.ProcessPoolExecutor(max_workers=2, mp_context=SPAWN) as pool:
        list(pool.map(workers.slow_identity, [0.1, 0.1]))  # both workers started (not timed)
        words = words_for(count_seconds, pool)
        urls = [server.url(f"/{n}", delay=delay, words=words) for n in range(bodies)]
        print(f"  {bodies} bodies of {words:,} words ({(3 * words - 1) / 2**20:.1f} MiB each), downloaded {at_once} "
              f"at a time; each answered after {delay} s and counted in about {count_seconds} s")
        for _ in range(repeats):
            for name, way in ways.items():
                timeline = Timeline()
                with Timer() as timer:
                    counts = asyncio.run(way(urls, pool, at_once, timeline))
                assert counts == [words] * bodies, f"{name}: the counts came back wrong"
                seconds[name].append(timer.seconds)
                overlaps[name].append(timeline.overlap("download", "count"))
                if name == "one after the other":
                    for stage in stages:
                        stages[stage].append(timeline.busy(stage))
            print(f"  one after the other {seconds['one after the other'][-1]:.2f} s (downloads "
                  f"{stages['download'][-1]:.2f} s, then counts {stages['count'][-1]:.2f} s), "
                  f"pipeline {seconds['pipeline'][-1]:.2f} s, overlapping for {overlaps['pipeline'][-1]:.2f} s")
    sequential = statistics.median(seconds["one after the other"])
    for name in ways:
        median = statistics.median(seconds[name])
        print(f"  {name:<26} median {median:6.2f} s  {sequential / median:6.2f}x  downloads and counts "
              f"overlapped for {statistics.median(overlaps[name]):.2f} s")
    download, count = (statistics.median(values) for values in stages.values())
    ideal = (download + count) / max(download, count)
    print(f"  the stages alone: downloads {download:.2f} s, counts {count:.2f} s; "
          f"a perfect pipeline would take the longer one, {ideal:.2f}x")
    waiting = -(-bodies // at_once) * delay
    print(f"  of the downloads' {download:.2f} s, {waiting:.2f} s is waiting out the server's delay "
          f"({bodies} bodies, {at_once} at a time, {delay} s each); the rest is making, sending and reading bodies")
    return f"the pipeline {sequential / statistics.median(seconds['pipeline']):.2f}x (a perfect one {ideal:.2f}x)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small batches and one repeat, to check that it runs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--part", type=int, choices=(1, 2, 3), action="append",
                        help="run only this measurement (repeat the option for more); all three by default")
    arguments = parser.parse_args()
    parts = set(arguments.part or (1, 2, 3))
    repeats = 1 if arguments.quick else arguments.repeats
    pages, delay, at_once = (24, 0.02, 8) if arguments.quick else (128, 0.1, 32)
    requests, flood_delay = (100, 0.3) if arguments.quick else (1000, 1.0)
    bodies, body_delay, count_seconds = (6, 0.02, 0.02) if arguments.quick else (20, 0.1, 0.1)
    print(f"Python {sys.version.split()[0]}, {usable_cpu_count()} usable CPUs; the server and the clients "
          "run in processes of their own (spawn)")
    measured = {}
    with RemoteServer(delay=delay) as server:
        if 1 in parts:
            print(f"1. Downloads: {pages} pages, each answered after {delay} s; speed-up over 1 thread")
            measured[1] = downloads(server, pages, at_once, repeats)
            server.stats()
        if 2 in parts:
            print(f"2. {requests} requests in flight at once, each answered after {flood_delay} s")
            measured[2] = in_flight(server, requests, flood_delay, repeats)
        if 3 in parts:
            print("3. Download and count: the stages one after the other, and a pipeline")
            measured[3] = pipelines(server, bodies, body_delay, count_seconds, 2, repeats)
    expected = {
        1: f"{at_once} threads and asyncio at least {at_once // 2}x, within about 20% of each other",
        2: f"both about {flood_delay} s plus the server's time to take {requests} connections, "
           f"threads +{requests} threads and several times asyncio's memory",
        3: "the pipeline at least 1.4x (2x for equal stages)",
    }
    print("Expected: " + "; ".join(f"{part}. {expected[part]}" for part in sorted(measured)))
    print("Measured: " + "; ".join(f"{part}. {text}" for part, text in sorted(measured.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
