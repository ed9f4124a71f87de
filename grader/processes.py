"""Finding, watching and ending every process a notebook started.

A notebook's processes are found one of two ways:

* by user, when its kernel runs as a user of its own (the grader runs as root on Linux):
  every process of that user is the notebook's, wherever it moved;
* by family otherwise: the kernel and its descendants, plus the orphans that the grader
  adopted. On Linux the grader is a *child subreaper*, so a process that double-forks or
  calls ``setsid`` is re-parented to the grader, not to init, and stays findable.

A :class:`Watchdog` thread counts the processes and threads and adds up their memory while
the notebook runs, and ends them all when a cap is exceeded; it also feeds the cell's
:class:`~grader.cell_clock.CellClock` with their CPU time and runnable threads.
:func:`end_all` ends them after the notebook: SIGTERM, a short grace, then SIGSTOP and
SIGKILL until none is left (stopped first, so that a fork bomb cannot outrun the killing).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable

import psutil  # type: ignore[import-untyped]

from grader.cell_clock import CellClock

__all__ = ["ProcessSet", "Usage", "Watchdog", "disk_usage", "end_all", "reap_adopted", "remove_shared_memory"]

_LINUX = sys.platform.startswith("linux")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclasses.dataclass(frozen=True)
class Usage:
    """What a notebook's processes use at one moment."""

    processes: int = 0
    tasks: int = 0  # processes and threads: what RLIMIT_NPROC counts
    rss_bytes: int = 0
    cpu_seconds: float = 0.0  # used so far by the processes and the children they reaped
    runnable: int = 0  # threads running or waiting for a CPU


@dataclasses.dataclass(frozen=True)
class _Entry:
    ppid: int
    uid: int
    threads: int
    rss_bytes: int
    zombie: bool
    runnable: bool  # its main thread, running or waiting for a CPU
    cpu_ticks: int  # its own and its reaped children's user and system time


def _stat_fields(path: str) -> list[bytes]:
    """The fields of a /proc stat file after the command name (state, ppid, ...); the name
    is in parentheses and may hold spaces and parentheses itself."""
    with open(path, "rb") as file:
        data = file.read()
    return data[data.rindex(b")") + 2:].split()


def _table(uid: int | None = None) -> dict[int, _Entry]:
    """Every process on the machine (parent, user, threads, resident memory), or with
    ``uid`` only that user's processes."""
    table: dict[int, _Entry] = {}
    if _LINUX:
        # /proc read by hand, not psutil: the watchdog reads the table five times a second,
        # and end_all re-reads it every 20 ms while it kills. Measured with 474 processes:
        # 9.7 ms here against 40 ms with psutil.process_iter (31 ms asking only for what
        # /proc/PID/stat holds); 1.2 ms against 5.7 ms with 75. One file per process here,
        # three and a Process object each there. With ``uid``, the owner of /proc/PID (one
        # stat call) is checked before its file is read: 0.19 ms against 1.3 ms with 68
        # processes, most of them other users'.
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                owner = -1
                if uid is not None:
                    owner = os.stat(f"/proc/{name}").st_uid
                    if owner != uid:
                        continue
                fields = _stat_fields(f"/proc/{name}/stat")
            except (OSError, ValueError):
                continue
            table[int(name)] = _Entry(ppid=int(fields[1]), uid=owner, threads=int(fields[17]),
                                      rss_bytes=int(fields[21]) * _PAGE, zombie=fields[0] == b"Z",
                                      runnable=fields[0] == b"R", cpu_ticks=sum(map(int, fields[11:15])))
        return table
    for process in psutil.process_iter(["ppid", "uids", "num_threads", "memory_info", "status", "cpu_times"]):
        info = process.info
        uids, memory, times = info.get("uids"), info.get("memory_info"), info.get("cpu_times")
        if uid is not None and (uids.real if uids else -1) != uid:
            continue
        table[process.pid] = _Entry(ppid=info.get("ppid") or 0, uid=uids.real if uids else -1,
                                    threads=info.get("num_threads") or 1,
                                    rss_bytes=memory.rss if memory else 0,
                                    zombie=info.get("status") == psutil.STATUS_ZOMBIE,
                                    runnable=info.get("status") == psutil.STATUS_RUNNING,
                                    cpu_ticks=round(sum(times[:4]) * _TICK) if times else 0)
    return table


def _runnable_threads(pid: int, entry: _Entry) -> int:
    """How many of the process's threads are running or waiting for a CPU."""
    if entry.threads == 1 or not _LINUX:
        return int(entry.runnable)
    count = 0
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, ValueError, IndexError):  # a thread that ended meanwhile
                count += _stat_fields(f"/proc/{pid}/task/{tid}/stat")[0] == b"R"
    return count


class ProcessSet:
    """The processes that belong to one notebook.

    ``uid``: the kernel's own user, if it has one (then all of that user's processes).
    Otherwise ``roots()`` gives the kernel's pid(s): they and their descendants count, and
    so do the grader's children that were not there when the set was made (orphans the
    subreaper grader adopted), except the pids in ``exclude``.
    """

    def __init__(self, uid: int | None, roots: Callable[[], Iterable[int]]) -> None:
        self.uid = uid
        self._roots = roots
        self._grader = os.getpid()
        self._before = set() if uid is not None else {
            pid for pid, entry in _table().items() if entry.ppid == self._grader}

    def _members(self, table: dict[int, _Entry]) -> list[int]:
        if self.uid is not None:
            return [pid for pid, entry in table.items() if entry.uid == self.uid]
        children: dict[int, list[int]] = {}
        for pid, entry in table.items():
            children.setdefault(entry.ppid, []).append(pid)
        roots = {pid for pid in self._roots() if pid in table}
        roots |= {pid for pid in children.get(self._grader, []) if pid not in self._before}
        found, queue = set(), list(roots)
        while queue:
            pid = queue.pop()
            if pid not in found:
                found.add(pid)
                queue.extend(children.get(pid, []))
        return sorted(found)

    def pids(self) -> list[int]:
        """The notebook's processes now (zombies included: they still hold a pid)."""
        return self._members(_table(self.uid))

    def usage(self) -> Usage:
        table = _table(self.uid)
        pids = self._members(table)
        members = [table[pid] for pid in pids]
        live = [entry for entry in members if not entry.zombie]
        return Usage(processes=len(live), tasks=sum(entry.threads for entry in members),
                     rss_bytes=sum(entry.rss_bytes for entry in live),
                     # Zombies too: an ended process keeps its CPU time until its parent reaps it.
                     cpu_seconds=sum(entry.cpu_ticks for entry in members) / _TICK,
                     runnable=sum(_runnable_threads(pid, table[pid]) for pid in pids if not table[pid].zombie))


def reap_adopted(keep: Iterable[int] = ()) -> None:
    """Collect the exit status of orphans the grader adopted as subreaper (not ``keep``,
    whose owners wait for them), so that they do not linger as zombies."""
    if not _LINUX:
        return
    grader, keep = os.getpid(), set(keep)
    # Most calls find no child ended at all: waitid with WNOWAIT says so without reaping
    # anything, where reading the whole process table cost ten times as much (the watchdog
    # asks five times a second).
    try:
        ended = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # no children at all
        return
    if ended is None:
        return
    for pid, entry in _table().items():
        if entry.ppid == grader and entry.zombie and pid not in keep:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)


def disk_usage(folders: Iterable[str | os.PathLike[str]], shm_uid: int | None = None) -> int:
    """Bytes the files in ``folders`` take on disk, plus ``/dev/shm`` files of ``shm_uid``
    (shared memory lives in RAM)."""
    total, stack = 0, [os.fspath(folder) for folder in folders]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
    if shm_uid is not None and os.path.isdir("/dev/shm"):
        with contextlib.suppress(OSError):
            for entry in os.scandir("/dev/shm"):
                with contextlib.suppress(OSError):
                    info = entry.stat(follow_symlinks=False)
                    if info.st_uid == shm_uid:
                        total += info.st_blocks * 512
    return total


def remove_shared_memory(uid: int | None) -> int:
    """Remove what ``uid`` left in /dev/shm (semaphores, shared memory); how many files."""
    removed = 0
    if uid is None or not os.path.isdir("/dev/shm"):
        return 0
    with contextlib.suppress(OSError):
        for entry in os.scandir("/dev/shm"):
            with contextlib.suppress(OSError):
                if entry.stat(follow_symlinks=False).st_uid == uid and not entry.is_dir(follow_symlinks=False):
                    os.unlink(entry.path)
                    removed += 1
    return removed


def _signal_all(pids: Iterable[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _kill_as(uid: int) -> None:
    """Kill every process of ``uid`` at once: kill(-1) from a process of that user reaches
    all of them, atomically, so nothing can fork its way out."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(["kill", "-KILL", "-1"], user=uid, group=uid, extra_groups=[], timeout=10,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def end_all(processes: ProcessSet, grace: float = 0.5, keep: Iterable[int] = ()) -> int:
    """End every process in ``processes``; return how many there were.

    SIGTERM first, so that children can clean up (shared memory, semaphores); after
    ``grace`` seconds, SIGSTOP and SIGKILL to whatever is left, including processes that
    ignore SIGTERM, repeated until none is left. ``keep``: pids reaped by their owner.
    """
    alive = [pid for pid in processes.pids()]
    if not alive:
        return 0
    initial = len(alive)
    _signal_all(alive, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        reap_adopted(keep)
        alive = _live(processes)
    for _ in range(50):
        if not alive:
            break
        if processes.uid is not None and hasattr(os, "geteuid") and os.geteuid() == 0:
            _kill_as(processes.uid)
        else:
            _signal_all(alive, getattr(signal, "SIGSTOP", signal.SIGTERM))
            _signal_all(alive, getattr(signal, "SIGKILL", signal.SIGTERM))
        time.sleep(0.02)
        reap_adopted(keep)
        alive = _live(processes)
    return initial


def _live(processes: ProcessSet) -> list[int]:
    table = _table(processes.uid)
    return [pid for pid in processes._members(table) if not table[pid].zombie]


class Watchdog(threading.Thread):
    """Watches a notebook's processes while it runs; ends them all when it uses more than
    ``max_tasks`` processes and threads, ``max_bytes`` of memory, or ``max_disk`` bytes of
    files in ``folders()`` (checked once a second, and by :meth:`check_disk`), and says why."""

    def __init__(self, processes: ProcessSet, max_tasks: int, max_bytes: int, keep: Callable[[], Iterable[int]],
                 interval: float = 0.2, max_disk: int = 0,
                 folders: Callable[[], Iterable[str]] = lambda: ()) -> None:
        super().__init__(name="grader watchdog", daemon=True)
        self.processes = processes
        self.max_tasks = max_tasks
        self.max_bytes = max_bytes
        self.interval = interval
        self._keep = keep
        self.max_disk = max_disk
        self._folders = folders
        self._stop_event = threading.Event()
        self._trip_lock = threading.Lock()
        self.violation: str | None = None
        self.peak = Usage()
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        self.clock = CellClock(cpus or 1)  # fed from here, started and read by the cell loop
        self.notebook_clock = CellClock(cpus or 1)  # the same, never restarted: the whole notebook

    def run(self) -> None:
        rounds = 0
        while not self._stop_event.wait(self.interval):
            rounds += 1
            try:
                usage = self.processes.usage()
            except Exception:  # /proc changing under us: try again next time
                continue
            for clock in (self.clock, self.notebook_clock):
                clock.sample(usage.cpu_seconds, usage.runnable)
            self.peak = Usage(max(self.peak.processes, usage.processes), max(self.peak.tasks, usage.tasks),
                              max(self.peak.rss_bytes, usage.rss_bytes))
            reason = None
            if usage.tasks > self.max_tasks:
                reason = (f"the notebook ran {usage.tasks} processes and threads at once; "
                          f"the limit is {self.max_tasks}")
            elif usage.rss_bytes > self.max_bytes:
                reason = (f"the notebook's processes used {usage.rss_bytes / 2**20:.0f} MB of memory; "
                          f"the limit is {self.max_bytes / 2**20:.0f} MB")
            elif rounds % max(1, int(1 / self.interval)) == 0:
                reason = self._disk_reason()
            if reason:
                self._trip(reason)
            reap_adopted(self._keep())

    def check_disk(self) -> str | None:
        """Check the files now, between cells: a cell that writes past the limit within the
        second between two of the thread's checks is charged, not the cell after it."""
        if self.violation is not None:  # the thread has already ended them
            return self.violation
        reason = self._disk_reason()
        if reason:
            self._trip(reason)
        return self.violation

    def _disk_reason(self) -> str | None:
        if not self.max_disk:
            return None
        written = disk_usage(self._folders(), self.processes.uid)
        if written <= self.max_disk:
            return None
        return f"the notebook wrote {written / 2**20:.0f} MB of files; the limit is {self.max_disk / 2**20:.0f} MB"

    def _trip(self, reason: str) -> None:
        with self._trip_lock:  # the thread and the cell loop may both find a reason at once
            if self.violation is not None:
                return
            self.violation = reason
        end_all(self.processes, grace=0.0, keep=self._keep())

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(5)
