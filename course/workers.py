"""Functions that run in child processes.

Under the ``spawn`` and ``forkserver`` start methods a child cannot see functions defined
in a notebook: it imports its target by module and name. Every target the course hands to
another process therefore lives here, in an importable module, and works the same under
``fork``, ``spawn`` and ``forkserver``.

The workers of 01 report through exit codes and standard output only, because 01 comes
before queues and pipes; later ones return results or use the queue, pipe or shared memory
they are given. None writes to standard error on success, since nbgrader gives 0 to a test
cell that writes to it. The sections follow the notebooks that introduce them.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for the annotations: importing these costs nothing at run time
    from multiprocessing.connection import Connection
    from multiprocessing.queues import Queue

__all__ = [
    "add_to_num",
    "count_primes",
    "count_words",
    "exit_with",
    "explorer_task",
    "greet",
    "increment",
    "meet_at_barrier",
    "put_square",
    "send_all",
    "set_pi_and_negate",
    "sleep_then_exit",
    "slow_identity",
    "spin",
    "square",
    "square_slice",
    "tag_with_pid",
    "upper_echo",
    "write_slowly",
]

# --- 01_processes -------------------------------------------------------------------------


def exit_with(code: int) -> None:
    """Leave the process at once with exit status ``code``."""
    sys.exit(code)


def sleep_then_exit(seconds: float, code: int) -> None:
    """Sleep for ``seconds``, then leave with exit status ``code``."""
    time.sleep(seconds)
    sys.exit(code)


def greet(name: str, greeting: str = "Hello") -> None:
    """Print a greeting that names this process and its parent."""
    # One write per line, so that lines from several children do not interleave.
    print(f"{greeting}, {name}! (pid {os.getpid()}, parent {os.getppid()})\n", end="", flush=True)


def meet_at_barrier(barrier: threading.Barrier, timeout: float) -> None:
    """Wait at ``barrier``; exit 0 if every party arrives within ``timeout`` seconds, else 1.

    A barrier only opens when all its parties wait at it at the same time, so a batch of
    these processes exits with 0 only if every one of them was started before any was
    joined. Running them one after another breaks the barrier instead: the first waits
    ``timeout`` seconds alone, and each later one finds the barrier already broken.
    ``barrier`` is a ``multiprocessing.Barrier`` or a manager's ``Barrier`` proxy (typed
    as their threading twin, which has the same interface); the proxy also works when the
    process was started with another start method than the default.
    """
    try:
        barrier.wait(timeout)
    except threading.BrokenBarrierError:
        sys.exit(1)


# --- 02_communication ---------------------------------------------------------------------


def put_square(queue: Queue[tuple[int, int]], index: int, number: int) -> None:
    """Put ``(index, number * number)`` on ``queue``.

    The index travels with the result because processes finish in any order: the parent
    uses it to put the squares back in input order.
    """
    queue.put((index, number * number))


def upper_echo(conn: Connection) -> None:
    """Answer each message received on ``conn`` with it upper-cased, until ``None`` arrives.

    Also stops, without a traceback, on ``EOFError``: when every copy of the other end is
    closed. (Under ``fork`` the child holds a copy of the parent's end too, so there only
    the ``None`` stops it.)
    """
    try:
        while (message := conn.recv()) is not None:
            conn.send(message.upper())
    except EOFError:
        pass
    finally:
        conn.close()


def square_slice(array: Any, start: int, stop: int) -> None:
    """Set ``array[i] = i * i`` for every ``i`` in ``range(start, stop)``.

    ``array`` is a ``multiprocessing.Array``; each process writes only its own slice, so
    the slices need no lock.
    """
    for i in range(start, stop):
        array[i] = i * i


# A module global for 02's first demo: every process has a copy of its own.
num = 100


def add_to_num(amount: int) -> None:
    """Add ``amount`` to this module's global ``num`` and print the value this process sees.

    Run in a child, it changes the child's copy only: the parent's ``num`` stays as it was.
    """
    global num
    num += amount
    # One write per line, so that lines from several children do not interleave.
    print(f"child (pid {os.getpid()}): num = {num}\n", end="", flush=True)


def write_slowly(path: str, text: str, delay: float, lock: Any = None) -> None:
    """Append ``text`` to the file at ``path`` one character at a time, ``delay`` s apart.

    Several of these processes writing to one file at once interleave their characters.
    Given a ``lock`` (a ``multiprocessing.Lock``), each holds it while writing its whole
    text, so the texts come out whole, one after another.
    """
    if lock is not None:
        lock.acquire()
    try:
        with open(path, "a") as file:
            for char in text:
                file.write(char)
                file.flush()  # each character reaches the file at once
                time.sleep(delay)
    finally:
        if lock is not None:
            lock.release()


def increment(counter: Any, times: int, locked: bool = False) -> None:
    """Add 1 to ``counter.value`` ``times`` times; ``counter`` is a ``multiprocessing.Value``.

    Unlocked, ``counter.value += 1`` reads the value, then writes it back plus one, and
    another process can write in between: its update is lost. Locked, the read and the
    write happen together, inside ``with counter.get_lock():``.
    """
    if locked:
        for _ in range(times):
            with counter.get_lock():
                counter.value += 1
    else:
        for _ in range(times):
            counter.value += 1


def set_pi_and_negate(number: Any, array: Any) -> None:
    """Set ``number.value`` to 3.1415927 and negate every item of ``array`` in place.

    ``number`` is a ``multiprocessing.Value`` and ``array`` a ``multiprocessing.Array``:
    shared memory, so the process that made them sees the changes.
    """
    number.value = 3.1415927
    for i in range(len(array)):
        array[i] = -array[i]


def send_all(conn: Connection, items: list[Any]) -> None:
    """Send each of ``items`` on ``conn``, then close it."""
    for item in items:
        conn.send(item)
    conn.close()


# --- 03_process_pools ---------------------------------------------------------------------


def square(x: int) -> int:
    """Return ``x * x``."""
    return x * x


def slow_identity(seconds: float) -> float:
    """Sleep for ``seconds``, then return ``seconds``."""
    time.sleep(seconds)
    return seconds


def count_primes(limit: int) -> int:
    """The number of primes below ``limit``, by trial division: deliberately CPU-bound."""
    count = 0
    for n in range(2, limit):
        if all(n % d for d in range(2, math.isqrt(n) + 1)):
            count += 1
    return count


def tag_with_pid(x: Any) -> tuple[Any, int]:
    """Return ``(x, pid)``: ``x`` and the id of the process that ran this call.

    A pool's results then show which worker process handled which task.
    """
    return x, os.getpid()


# --- the worker-count explorer (course.explorer) ------------------------------------------


def spin(iterations: int) -> int:
    """Busy the CPU in pure Python for ``iterations`` loop turns; holds the GIL throughout."""
    total = 0
    for i in range(iterations):
        total += i * i
    return total


# A CPU-bound task spins in slices this many loop turns long (some microseconds) and reads
# the clock between them: a gap between two readings much longer than a slice means the task
# was not running then (waiting for the GIL, or for a CPU).
_SLICE_TURNS = 256
_GAP_SECONDS = 0.0005

ExplorerResult = tuple[int, int, float, float, tuple[tuple[float, float], ...]]


def explorer_task(workload: str, size: float, url: str = "") -> ExplorerResult:
    """Run one task of the worker-count explorer; return who ran it, when, and when it ran.

    ``workload`` is ``"cpu"`` (``spin(size)``: pure Python, holds the GIL), ``"io"``
    (``time.sleep(size)``: waits without the CPU or the GIL), ``"hashlib"`` (SHA-256 of
    ``size`` zero bytes: C code that releases the GIL while it hashes) or ``"download"``
    (``course.net.fetch(url)``: waits on a socket). Returns
    ``(pid, thread id, start, end, running)``, with times on ``time.perf_counter``'s clock,
    which is system-wide on Linux, macOS and Windows, so the parent can compare them across
    processes. ``running`` lists the ``(start, end)`` stretches in which a CPU-bound task
    was actually running; it is empty for the other workloads, which are not sampled.
    """
    start = time.perf_counter()
    running: list[tuple[float, float]] = []
    if workload == "cpu":
        running = _spin_sampled(int(size), start)
    elif workload == "io":
        time.sleep(size)
    elif workload == "hashlib":
        hashlib.sha256(bytes(int(size))).digest()
    elif workload == "download":
        from course.net import fetch  # imported here: only the download workload needs it

        fetch(url)
    else:
        raise ValueError(f"unknown workload {workload!r}: use 'cpu', 'io', 'hashlib' or 'download'")
    return os.getpid(), threading.get_ident(), start, time.perf_counter(), tuple(running)


def _spin_sampled(iterations: int, start: float) -> list[tuple[float, float]]:
    """``spin(iterations)`` in short slices, returning the stretches in which it ran."""
    running = []
    stretch_start = last = start
    for _ in range(max(iterations // _SLICE_TURNS, 1)):
        spin(_SLICE_TURNS)
        now = time.perf_counter()
        if now - last > _GAP_SECONDS:  # it was off the CPU between last and now
            running.append((stretch_start, last))
            stretch_start = now
        last = now
    running.append((stretch_start, last))
    return running


# 03: a pool's initializer, a worker that dies, for 03_process_pools ------------------------

# Set in each pool worker by ``remember_setting``, the pool's initializer; None elsewhere.
worker_setting: Any = None


def remember_setting(value: Any) -> None:
    """A pool initializer: store ``value`` in this worker process, once, before any task."""
    global worker_setting
    worker_setting = value


def read_setting(x: Any) -> tuple[Any, Any, int]:
    """Return ``(x, setting, pid)``: the setting ``remember_setting`` stored in this process."""
    return x, worker_setting, os.getpid()


def die_abruptly(code: int) -> None:
    """End this process at once with exit status ``code``, skipping all clean-up.

    ``os._exit`` does not raise ``SystemExit``, so a pool cannot catch it and send it back:
    the worker simply vanishes, as if killed. A ``ProcessPoolExecutor`` then becomes broken.
    """
    os._exit(code)


__all__ += ["die_abruptly", "read_setting", "remember_setting"]


# 01/02: a greeting returned through a queue, for 01; a managed dict and shared memory, for 02


def greet_into(queue: Queue[str], name: str) -> None:
    """Put a greeting naming this process's pid on ``queue``, for the parent to print."""
    queue.put(f"Hello {name}, from pid {os.getpid()}")


def record_in(shared: Any, key: str, value: Any) -> None:
    """Store ``value`` under ``key`` in ``shared``, a managed dict: one round trip to its server."""
    shared[key] = value


def upper_shared_bytes(name: str, size: int) -> None:
    """Attach to the ``SharedMemory`` block called ``name`` and upper-case its first ``size`` bytes.

    The child only closes its own mapping: the process that created the block unlinks it.
    """
    from multiprocessing import shared_memory

    block = shared_memory.SharedMemory(name=name)
    try:
        view = block.buf
        assert view is not None  # None only after close()
        view[:size] = bytes(view[:size]).upper()
    finally:
        block.close()


def double_shareable(name: str) -> None:
    """Attach to the ``ShareableList`` called ``name`` and double each of its numbers in place."""
    from multiprocessing import shared_memory

    items: Any = shared_memory.ShareableList(name=name)
    try:
        for index, item in enumerate(items):
            items[index] = item * 2
    finally:
        items.shm.close()


__all__ += ["double_shareable", "greet_into", "record_in", "upper_shared_bytes"]


# --- 08_async_and_choosing ----------------------------------------------------------------


def count_words(text: bytes | str) -> int:
    """The number of whitespace-separated words in ``text`` (a downloaded body or a string)."""
    if not isinstance(text, (bytes, str)):
        raise TypeError(f"count_words takes bytes or str, not {type(text).__name__}")
    return len(text.split())


def timed_count_words(text: bytes | str) -> tuple[int, float, float]:
    """``count_words(text)``, with the ``time.perf_counter()`` readings taken in the worker
    when it started and finished counting: ``(count, start, end)``.

    perf_counter is one clock for the whole machine (see ``course.timeline``), so a parent
    can put the span on its own timeline: ``timeline.add("count", label, start, end)``.
    """
    start = time.perf_counter()
    count = count_words(text)
    return count, start, time.perf_counter()


__all__ += ["timed_count_words"]
