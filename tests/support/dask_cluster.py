"""A Dask cluster on 127.0.0.1 as an instructor starts one with dask's own commands: a
scheduler and worker processes (``dask scheduler``, ``dask worker --nthreads 1``), each a
process of its own that talks over TCP, working in folders of their own."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

# Seconds for the scheduler to write its address, and for a worker to register: a second
# or two when idle (each imports distributed); a busy machine can make that many times longer.
START_SECONDS = 120


@dataclasses.dataclass
class DaskCluster:
    """A scheduler and workers started in ``folder`` (their logs are there)."""

    folder: Path
    env: dict[str, str] | None = None
    scheduler: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = dataclasses.field(default_factory=list)
    address: str = ""

    def _start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{name}.log", "wb")
        try:
            return subprocess.Popen([sys.executable, "-m", *args], cwd=self.folder, env=self.env, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        finally:
            log.close()

    def start_scheduler(self) -> str:
        file = self.folder / "scheduler.json"
        file.unlink(missing_ok=True)
        self.scheduler = self._start("scheduler", ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
                                                   "0", "--no-dashboard", "--scheduler-file", str(file)])
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError, KeyError):
                self.address = json.loads(file.read_text())["address"]
                return self.address
            if self.scheduler.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"the Dask scheduler did not start: {self.log('scheduler')[-2000:]}")

    def start_workers(self, count: int) -> None:
        """``count`` more workers, one thread each, and wait until the scheduler has them."""
        before = self.log("scheduler").count("Register worker")
        for _ in range(count):
            index = len(self.workers) + 1
            (self.folder / f"worker-{index}").mkdir(exist_ok=True)
            self.workers.append(self._start(f"worker-{index}", [
                "distributed.cli.dask_worker", self.address, "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1",
                "--no-dashboard", "--local-directory", str(self.folder / f"worker-{index}")]))
        deadline = time.monotonic() + START_SECONDS
        while self.log("scheduler").count("Register worker") < before + count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"Dask workers did not register: {self.log('scheduler')[-2000:]}")
            time.sleep(0.1)

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        processes = [p for p in [*self.workers, self.scheduler] if p is not None]
        for process in processes:
            with contextlib.suppress(OSError):
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def dask_cluster(folder: Path, workers: int = 2, env: dict[str, str] | None = None) -> Iterator[DaskCluster]:
    """A scheduler and ``workers`` worker processes on 127.0.0.1, stopped afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    cluster = DaskCluster(folder, env)
    try:
        cluster.start_scheduler()
        cluster.start_workers(workers)
        yield cluster
    finally:
        cluster.stop()
