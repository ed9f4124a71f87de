"""Where submissions are graded: the workers of a Dask cluster (``--scheduler``), or of a
local cluster started for the run on this machine's usable CPUs. Both run the same pure step,
:func:`grader.task.grade`, one notebook at a time per worker process.

Data flow::

    coordinator --Client.submit(grade, bundle, task, key=<student>)--> scheduler --> a worker process
    worker --Outcome--> scheduler --> coordinator (a done-callback puts the future on a queue)
    a worker that dies mid-notebook: the scheduler runs the task again on another worker
        (distributed.scheduler.allowed-failures times); its key completes once, so it is written once
    the scheduler lost: the client cancels every future ("scheduler-connection-lost"): the run stops
"""

from __future__ import annotations

import contextlib
import logging
import queue
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

from grader.task import Bundle, Outcome, Task, grade, grader_fingerprint

__all__ = ["CONNECT_SECONDS", "WORKERS_SECONDS", "ClusterProblem", "Engine", "SchedulerLost", "cluster", "quiet_dask"]

# Seconds to reach a scheduler, and to wait for its first worker, before refusing to start.
CONNECT_SECONDS = 10
WORKERS_SECONDS = 30


class SchedulerLost(Exception):
    """The connection to the Dask scheduler was lost in the middle of a run."""


class ClusterProblem(Exception):
    """The cluster cannot grade: no scheduler there, no workers, or workers of another version."""


def quiet_dask() -> None:
    """Dask logs each worker's coming and going, and the retries after a loss: the run's own
    output says what matters (the table; a lost scheduler)."""
    import distributed  # noqa: F401 -- its logging configuration first, then this one

    names = [name for name in logging.root.manager.loggerDict if name.split(".")[0] in ("distributed", "tornado")]
    for name in ("distributed", "tornado", *names):
        logging.getLogger(name).setLevel(logging.CRITICAL)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Processes started meanwhile ignore Ctrl-C for good (an ignored signal stays ignored
    across exec): the terminal's Ctrl-C reaches the coordinator, which ends them itself."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _check_workers(client: Any, address: str) -> None:
    """Wait for the scheduler's first worker, and refuse workers with another grader."""
    try:
        client.wait_for_workers(1, timeout=WORKERS_SECONDS)
    except Exception:
        raise ClusterProblem(f"the Dask scheduler at {address} has no workers after {WORKERS_SECONDS} s: start some "
                             f"with `dask worker {address} --nthreads 1`") from None
    try:
        theirs = client.run(grader_fingerprint)
    except Exception as error:  # a worker that cannot import this package
        raise ClusterProblem(f"the workers of {address} cannot run the course's grader ({type(error).__name__}: "
                             f"{error}): install the course's environment on every worker") from None
    mine = grader_fingerprint()
    other = sorted(worker for worker, fingerprint in theirs.items() if fingerprint != mine)
    if other:
        raise ClusterProblem(f"worker(s) {', '.join(other)} have another version of the course's grader than this "
                             "machine: install the same course on every worker")


@contextlib.contextmanager
def cluster(scheduler: str | None, jobs: int) -> Iterator[Any]:
    """A Dask client: of the scheduler at ``scheduler``, or of a local cluster of ``jobs``
    worker processes with one thread each. Raises :class:`ClusterProblem` when the
    cluster cannot grade."""
    from distributed import Client, LocalCluster

    quiet_dask()
    local = None
    if scheduler is None:
        with _sigint_ignored():
            # A nanny per worker restarts it if it dies; the hardened grader bounds each
            # notebook's memory, so the worker's own memory is not watched (memory_limit=0).
            local = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                                 dashboard_address=None, silence_logs=logging.CRITICAL, memory_limit=0)
        client = Client(local, set_as_default=False)
    else:
        try:
            client = Client(scheduler, timeout=CONNECT_SECONDS, set_as_default=False)
        except Exception as error:
            said = str(error).strip().splitlines()
            raise ClusterProblem(f"cannot reach the Dask scheduler at {scheduler}: "
                                 f"{said[0] if said else type(error).__name__} (start one with `dask scheduler`)"
                                 ) from None
    try:
        if scheduler is not None:
            _check_workers(client, scheduler)
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.close(timeout=5)
        if local is not None:
            with contextlib.suppress(Exception):
                local.close(timeout=5)


class Engine:
    """Submissions in flight on a cluster, and their outcomes as they complete."""

    def __init__(self, client: Any, bundle: Bundle, address: str) -> None:
        self.client = client
        self.address = address
        self.bundle = bundle
        self._done: queue.Queue[Any] = queue.Queue()
        self._students: dict[str, str] = {}  # key -> student
        self.in_flight: dict[str, Any] = {}  # student -> future
        self._run = uuid.uuid4().hex[:8]
        self.receive_seconds = 0.0  # fetching the last outcome, once it was ready

    def threads(self) -> int:
        """How many submissions the cluster grades at once now."""
        workers = self.client.scheduler_info().get("workers", {})
        return max(1, sum(int(info.get("nthreads", 1)) for info in workers.values()))

    def submit(self, task: Task) -> None:
        key = f"grade-{self._run}-{task.student}"
        # pure=False: a submission graded twice (a regrade) is two tasks, never a cached result.
        future = self.client.submit(grade, self.bundle, task, key=key, pure=False)
        self._students[key] = task.student
        self.in_flight[task.student] = future
        future.add_done_callback(self._done.put)

    def next_outcome(self) -> Outcome:
        """The next submission graded (an Outcome, "error" if it could not be), waiting as
        long as it takes; :class:`SchedulerLost` if the scheduler is lost meanwhile."""
        while True:
            try:
                future = self._done.get(timeout=0.5)
            except queue.Empty:
                self._check_connected()
                continue
            student = self._students.get(future.key)
            if student is None or self.in_flight.get(student) is not future:
                continue  # cancelled by the coordinator
            del self.in_flight[student]
            started = time.perf_counter()
            outcome = self._outcome(student, future)
            self.receive_seconds = time.perf_counter() - started
            return outcome

    def _outcome(self, student: str, future: Any) -> Outcome:
        from distributed import KilledWorker

        if future.status == "finished":
            try:
                result = future.result()
            except Exception as error:  # lost between completing and being fetched
                return self._lost(student, error)
            assert isinstance(result, Outcome)
            return result
        if future.status == "cancelled":
            raise SchedulerLost(f"the connection to the Dask scheduler at {self.address} was lost")
        failure = future.exception()
        if isinstance(failure, KilledWorker):
            return Outcome(student, "error", message=(
                f"every worker that graded it died ({failure}); it is not graded: run the command again, or look at "
                "what it does"))
        return Outcome(student, "error", message=f"{type(failure).__name__}: {str(failure).strip()[:300]}")

    def _check_connected(self) -> None:
        if self.client.status not in ("running", "newly-created"):
            raise SchedulerLost(f"the connection to the Dask scheduler at {self.address} was lost")

    def _lost(self, student: str, error: BaseException) -> Outcome:
        self._check_connected()
        return Outcome(student, "error", message=f"its result could not be fetched: {type(error).__name__}: {error}")

    def cancel(self) -> None:
        """Stop every submission in flight (a remote worker finishes its notebook, and drops it)."""
        futures = list(self.in_flight.values())
        self.in_flight.clear()
        with contextlib.suppress(Exception):
            self.client.cancel(futures, force=True)
