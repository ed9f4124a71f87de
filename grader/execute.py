"""``HardenedExecute``: nbgrader's ``Execute``, bounded, contained, and unable to drop a
submission silently.

It runs a submission's notebook as nbgrader's ``Execute`` does, cell by cell in one kernel,
and adds:

* **Bounds.** A total time per notebook (each cell's timeout shrinks to what is left of
  it, and ``overrun_seconds`` after it the grader stops waiting whatever it waits for),
  a shorter timeout for answer cells (they define functions; they do not compute),
  a cap on processes and threads, on memory, and on the output kept.
* **Containment.** The kernel starts contained (:mod:`grader.sandbox`): on Linux as
  a user of its own when grading as root, in a Landlock sandbox, with none of the
  grader's environment but what a Python needs and nbgrader's ``NBGRADER_EXECUTION``.
  After the notebook, and after every kernel death, every process it started is ended
  (:mod:`grader.processes`), and the course's files are checked and put back
  (:mod:`grader.guard`). Modules submitted beside the notebook are removed; nbgrader's
  own files there are held out of the kernel's reach while it runs (:mod:`grader.submission`).
* **No silent drops.** A kernel that dies (a crash, ``os._exit``, a cap exceeded) is
  restarted, the cells before the one it died in are run again except the tests (so that
  later exercises are still graded), and grading goes on; a cell that could not run gets an
  error output that says why, so a test that could not run scores 0, and a note at the top
  of the graded notebook (and so of the feedback) says what happened (:mod:`grader.notes`).
  Up to ``max_restarts`` times; after that the remaining cells are marked as not run.
  A kernel that does not start is tried again on fresh ports (``start_attempts``); if it
  never starts, every cell is marked as not run, so the submission scores 0 with a note.
  Demonstrations (cells without points, not locked) get a shorter timeout
  (``demo_timeout``), and once a cell has hung a very short one (``after_hang_timeout``):
  they would otherwise each wait the full timeout on the same hung answer. On a busy
  machine a demonstration's timeout counts only the time the machine let it compute
  (``busy_stretch``, :mod:`grader.cell_clock`).
* **Tamper resistance.** Test cells and locked helper cells are sent sealed to the kernel's
  sentinel (:mod:`grader_kernel.sentinel`), which runs them on a restored kernel and signs
  the outcome. A test counts only with a verified verdict; one whose verdict is missing or
  shows tampering while it ran scores 0 (:mod:`grader.verdicts`). Answers are scanned for
  tampering APIs (:mod:`grader.scan`). What needs an instructor's eye is passed on to
  :class:`grader.review.FlagForReview` through ``resources["course_grading"]``.

This module is the preprocessor itself: its settings, the cell loop, and the kernel's
start, arming, replay after a restart, and end. What happens is kept in a
:class:`grader.run_state.Run`.

Configure it in ``nbgrader_config.py`` (``c.HardenedExecute.total_seconds = ...``); the
per-cell timeout is nbgrader's ``c.Execute.timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from pathlib import Path
from typing import Any

import zmq
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader.coursedir import CourseDirectory  # type: ignore[import-untyped]
from nbgrader.preprocessors import Execute  # type: ignore[import-untyped]
from traitlets import Bool, CaselessStrEnum, Float, Integer, List, Unicode

from grader import scan, verdicts
from grader.cell_source import awaits_at_top_level, imported_modules
from grader.guard import CourseGuard
from grader.kernel_lines import FLUSH_TIMED_OUT, without_kernel_lines
from grader.kernelmanager import SEND_SECONDS, SandboxedKernelManager
from grader.notes import notes_cell, write_report
from grader.processes import ProcessSet, Watchdog, end_all, reap_adopted, remove_shared_memory
from grader.run_state import Run, cell_kind, nbgrader_meta
from grader.sandbox import LINUX, Limits, Sandbox
from grader.submission import give_back, gradebook_path, hold, remove_extra_files, remove_new_files, shadows_imports
from grader_kernel import privileges, protocol

# notes_cell and shadows_imports are defined in grader.notes and grader.submission, and
# importable from here too.
__all__ = ["HardenedExecute", "notes_cell", "shadows_imports"]

# Modules every test leans on, snapshotted even when no test cell imports them by name.
_ALWAYS_PREIMPORT = ("course.checks", "course.workers", "course.capture", "multiprocessing.pool",
                     "multiprocessing.managers", "multiprocessing.queues", "multiprocessing.connection",
                     "multiprocessing.synchronize", "multiprocessing.sharedctypes", "concurrent.futures.thread",
                     "concurrent.futures.process", "queue", "tempfile", "inspect", "traceback", "logging")


async def _ensure(value: Any) -> Any:
    """Await ``value`` if it is awaitable: kernel managers and clients may be sync or async."""
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return await value
    return value


class HardenedExecute(Execute):
    """Execute a submission within bounds, contained, tamper-resistant, never dropping it."""

    total_seconds = Float(180.0, help=(
        "Wall-clock seconds for a whole notebook, kernel restarts included. Each cell's timeout "
        "(Execute.timeout) shrinks to what is left; cells not reached score 0.")).tag(config=True)
    answer_timeout = Integer(20, help=(
        "Seconds an answer cell (nbgrader solution cell) may run: answers define functions and "
        "classes, they do not compute.")).tag(config=True)
    kernel_transport = CaselessStrEnum(["ipc", "tcp"], default_value="ipc", help=(
        "How the grader talks to each kernel (with sandbox). ipc: Unix sockets in the kernel's private folder, "
        "which no other program or grading can be handed or reach (where ZeroMQ has ipc: Linux, macOS; elsewhere "
        "tcp). tcp: loopback ports, picked free before the kernel binds them, so two kernels starting at once can "
        "be handed the same port; a client of one (its heartbeat pings every second) then reaches the other, "
        "which logs each stray message on the running cell's stderr, and a test that passed scores 0."
        )).tag(config=True)
    max_tasks = Integer(256, help=(
        "Processes and threads the notebook may run at once; more ends them all.")).tag(config=True)
    memory_mb = Integer(2048, help=(
        "Megabytes of memory (resident, all of the notebook's processes together); more ends them all.")
    ).tag(config=True)
    output_kb = Integer(4096, help="Kilobytes of output kept for the whole notebook; the rest is cut.").tag(config=True)
    file_mb = Integer(512, help="Megabytes the largest file the notebook writes may have.").tag(config=True)
    disk_mb = Integer(1024, help=(
        "Megabytes of files the notebook may write in all (its folder, its temporary folder, and "
        "on Linux as root its shared memory); more ends its processes.")).tag(config=True)
    overrun_seconds = Float(60.0, help=(
        "Seconds past total_seconds after which the grader stops waiting for a kernel that "
        "answers no more (every wait has its own bound; this is the last one): the cell it "
        "was in and the rest score 0, and the submission is flagged.")).tag(config=True)
    demo_timeout = Integer(20, help=(
        "Seconds a cell that carries no points and is not locked (a demonstration) may run. "
        "The course's demonstrations take a few seconds even on a busy machine; one that "
        "calls an answer that hangs would otherwise wait the full Execute.timeout.")).tag(config=True)
    after_hang_timeout = Integer(5, help=(
        "Once a cell has run past its timeout (an answer that hangs), each later cell that "
        "carries no points and is not locked (a demonstration) may run this many seconds: "
        "the demonstrations that call a hung answer would each wait the full timeout. Tests, "
        "locked cells and answers keep theirs.")).tag(config=True)
    busy_stretch = Float(3.0, help=(
        "On a busy machine a demonstration's timeout (demo_timeout) counts only the time the "
        "machine let it run: while its processes compute and wait for a CPU that another program "
        "holds, its clock runs slower (grader.cell_clock). When the timeout is reached before the "
        "clock has counted it, the cell runs on until it has, up to this many timeouts of wall "
        "time in all and never past total_seconds. A demonstration that waits (a deadlock, a "
        "sleep) is stopped at its timeout, busy machine or not; so is every demonstration once a "
        "cell has hung. 1 counts wall time only.")).tag(config=True)
    start_attempts = Integer(3, help=(
        "Tries to start a kernel, each on fresh ports, before giving up: two kernels started "
        "at once can pick the same port, and one then dies before it replies. A submission "
        "whose kernel never starts scores 0 with a Grading note that says so.")).tag(config=True)
    max_restarts = Integer(3, help=(
        "Kernel restarts after a death or hang; after that the remaining cells are not run.")).tag(config=True)
    student_uid_base = Integer(2_000_000_000, help=(
        "When grading as root on Linux, each notebook's kernel runs as an unused user id from "
        "this one upward (no account needed). 0 runs it as the grader's user.")).tag(config=True)
    keep_extra_files = Bool(False, help=(
        "Keep modules a student submitted beside the notebook (.py, .pyc, .so, ... files not in "
        "the source folder nor in Autograde.exclude_overwriting). They are removed by default: a "
        "submitted module (course.so, multiprocessing/...) would shadow the one the tests import.")
    ).tag(config=True)
    hidden_folders = List(Unicode(), help=(
        "More folders the kernel may not read, besides the course's own and the grader's home and "
        "temporary folders: the course a scratch course is graded for (grader.task).")).tag(config=True)
    kernel_env_keep = List(Unicode(), help=(
        "More environment variables (names, or prefixes ending in *) the kernel may see.")).tag(config=True)
    sandbox = Bool(True, help=(
        "Contain the kernel (own user, Landlock, limits). Off only to measure.")).tag(config=True)
    sealed_tests = Bool(True, help=(
        "Run locked cells through the in-kernel sentinel. Off only to measure.")).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(**kwargs)

    # --- the notebook --------------------------------------------------------------------

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict,
                   km: Any = None) -> tuple[NotebookNode, ResourcesDict]:
        # As nbconvert's ExecutePreprocessor.preprocess does: each notebook starts the
        # client's state afresh, and nbclient reads the submission's path from the resources.
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        if resources:
            self.resources = resources
        started = time.monotonic()
        limits = Limits(total_seconds=self.total_seconds, cell_seconds=int(self.timeout or 60),
                        answer_seconds=self.answer_timeout, max_tasks=self.max_tasks,
                        memory_bytes=self.memory_mb * 2**20, output_bytes=self.output_kb * 1024,
                        file_bytes=self.file_mb * 2**20)
        cells = nb.cells
        run = Run(limits=limits, deadline=started + limits.total_seconds,
                  kinds=[cell_kind(cell) if cell.cell_type == "code" else "markdown" for cell in cells])
        self._grading = run
        coursedir = CourseDirectory(config=self.config)
        course_root = Path(coursedir.root).resolve()
        submission = Path(resources.get("metadata", {}).get("path") or ".").resolve()
        info = resources.get("nbgrader", {})
        notebook_name = info.get("notebook", "")
        assignment = info.get("assignment", "")
        source = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
        for finding in scan.scan_answers(nb, run.kinds, source / f"{notebook_name}.ipynb"):
            # Such code can aim at any test of the notebook: all of them are flagged.
            run.flag("", finding)
        if not self.keep_extra_files:
            handed_in = self.config.get("Autograde", {}).get("exclude_overwriting", {}).get(assignment, [])
            removed = remove_extra_files(submission, source, handed_in)
            if removed:
                shown = ", ".join(removed[:10]) + (" ..." if len(removed) > 10 else "")
                run.notes.append(f"Files submitted beside the notebook were not used for grading: {shown}.")
        # The sanitized notebook in the submission folder holds the hidden tests: the kernel
        # must not read it. nbgrader writes the graded notebook there afterwards.
        with contextlib.suppress(OSError):
            (submission / f"{notebook_name}.ipynb").unlink()
        gradebook = gradebook_path(info.get("db_url", ""))
        guard = CourseGuard(course_root, gradebook, [submission])  # in the run this process grades in
        preimport = sorted({name for cell, kind in zip(cells, run.kinds, strict=True) if kind in ("test", "locked")
                            for name in imported_modules(cell.source)} | set(_ALWAYS_PREIMPORT))
        sandbox = Sandbox(course_root, submission, limits, self.student_uid_base if self.sandbox else 0,
                          preimport, self.kernel_env_keep, self.log, hidden=self.hidden_folders)
        self._sandbox = sandbox
        reaper = False
        if LINUX and privileges.available():
            with contextlib.suppress(OSError):
                reaper = privileges.is_child_subreaper()
                privileges.set_child_subreaper(True)
        self._describe_containment(sandbox, reaper_available=LINUX)
        self._processes = ProcessSet(sandbox.uid, lambda: set(run.kernel_pids))
        watchdog = Watchdog(self._processes, limits.max_tasks, limits.memory_bytes, lambda: set(run.kernel_pids),
                            max_disk=self.disk_mb * 2**20, folders=lambda: [str(submission), *sandbox.folders()])
        watchdog.start()
        self._watchdog = watchdog
        # nbgrader's own files there (the submission time, the assignment's other notebooks,
        # graded or not) wait outside the kernel's reach, and come back as they were.
        held = hold(submission, notebook_name)
        run.initial_files = {path.relative_to(submission) for path in submission.rglob("*")}
        try:
            self._run_sync(run)
        finally:
            watchdog.stop()
            self._stop_kernel()
            # Helpers such as multiprocessing's resource tracker end on their own once the
            # kernel has gone: give them a moment before counting what was left behind.
            settle = time.monotonic() + 1.0
            while time.monotonic() < settle and self._processes.pids():
                reap_adopted()
                time.sleep(0.05)
            left = end_all(self._processes, grace=0.5, keep=())
            reap_adopted()
            remove_shared_memory(sandbox.uid)
            if left:
                run.notes.append(f"{left} process(es) the notebook left running were ended after it.")
            if LINUX and not reaper:
                with contextlib.suppress(OSError):
                    privileges.set_child_subreaper(False)
            give_back(held, submission)  # the kernel has gone; close() gives them back to the grader's user
            sandbox.close()
            changes = guard.check_and_restore()
            guard.close()
            if changes:
                for change in changes:
                    run.flag("", f"the course's files changed while the notebook ran: {change}")
                run.notes.append("The notebook changed files of the course; they were put back and the "
                                 "submission is flagged for review.")
        if run.kernel_lines:
            cells = ", ".join(str(index + 1) for index in sorted(run.kernel_lines))
            run.notes.append(f"The kernel's output thread was held up for more than 10 s (a busy machine) in cell(s) "
                             f"{cells}; ipykernel's own line '{FLUSH_TIMED_OUT}', which the notebook did not write, "
                             "was left out of their output.")
        seconds, busy = time.monotonic() - started, watchdog.notebook_clock.held
        self.log.info("Graded %s/%s in %.1f s, %.1f s of them held back by a busy machine (peak %d processes "
                      "and threads, %.0f MB)", info.get("student"), notebook_name, seconds, busy, watchdog.peak.tasks,
                      watchdog.peak.rss_bytes / 2**20)
        write_report(run, nb, resources, seconds=seconds, peak=watchdog.peak, kernel_uid=sandbox.uid,
                     busy_seconds=busy)
        for note in run.notes:
            self.log.warning("%s", note)
        return self.nb, self.resources

    _described = False

    def _describe_containment(self, sandbox: Sandbox, reaper_available: bool) -> None:
        """Say once per command what this platform lets the grader enforce."""
        if HardenedExecute._described:
            return
        HardenedExecute._described = True
        from grader_kernel import landlock

        abi = landlock.abi_version() if LINUX else 0
        self.log.info(
            "Hardened grading: kernels run as %s; files: %s; left-over processes found %s; kernels reached over %s",
            f"their own user (from uid {self.student_uid_base})" if sandbox.uid is not None else "the grader's user",
            f"Landlock ABI {abi} (writes and reads of the course prevented)" if abi else
            "no Landlock here (course files checked and restored after each notebook instead)",
            "by user" if sandbox.uid is not None else "as adopted orphans (child subreaper)" if reaper_available else
            "as descendants only (a detached daemon can survive on this platform)",
            "Unix sockets in their private folders (ipc)"
            if self.sandbox and self.kernel_transport == "ipc" and zmq.has("ipc") else "loopback TCP ports")
        if not self.sandbox or not self.sealed_tests:
            self.log.warning("Hardened grading is partly off (sandbox=%s, sealed_tests=%s)",
                             self.sandbox, self.sealed_tests)

    def _run_sync(self, run: Run) -> None:
        run_sync(self._execute_within_bound)(run)

    async def _execute_within_bound(self, run: Run) -> None:
        """:meth:`_execute_notebook`, given up ``overrun_seconds`` after the notebook's time.

        Each wait inside has a bound (the cell's timeout, the kernel's start), so this one
        should never be reached; it is the grader's promise that a kernel which answers some
        messages and never others cannot keep a submission waiting without a grade.
        """
        task = asyncio.ensure_future(self._execute_notebook(run))
        done, _ = await asyncio.wait([task], timeout=max(run.remaining(), 0.0) + self.overrun_seconds)
        if task in done:
            task.result()
            return
        # Not asyncio.wait_for: it waits for the cancelled task to end, which a wait that
        # ignores cancellation would never do. The kernel is ended after this in any case.
        task.cancel()
        await asyncio.wait([task], timeout=5.0)
        why = (f"the grader stopped waiting for the kernel {self.overrun_seconds:g} s after the notebook's time "
               f"({run.limits.total_seconds:g} s) ran out")
        verdicts.mark_not_run(run, self.nb.cells, run.current, why)
        run.flag("", why)

    async def _execute_notebook(self, run: Run) -> None:
        cells = self.nb.cells
        index = 0
        # Started before the first cell even when no cell has code, as nbgrader's Execute
        # does. A kernel that cannot start (a port taken, a kernelspec the machine lacks)
        # grades the submission 0 with a note, rather than leave it without a grade.
        problem = await self._start_kernel_retrying(run, 0)
        if problem is not None:
            why = f"the kernel could not be started ({self.start_attempts} attempts; the last: {problem})"
            verdicts.mark_not_run(run, cells, 0, why)
            run.notes.append("Nothing in this notebook could run, so it scores 0; it should be graded again "
                             "once the kernel starts.")
            run.flag("", why)
            return
        need_kernel = False
        while index < len(cells):
            run.current = index
            cell = cells[index]
            if cell.cell_type != "code" or not cell.source.strip():
                index += 1
                continue
            if run.remaining() < 1:
                verdicts.mark_not_run(run, cells, index, f"the notebook's time ({run.limits.total_seconds:g} s) "
                                                         "ran out before this cell")
                break
            if need_kernel:
                problem = await self._start_kernel_retrying(run, index)
                if problem is not None:
                    self.log.warning("The kernel did not start again after a restart: %s", problem)
                    run.restarts += 1
                    if run.restarts > self.max_restarts:
                        verdicts.mark_not_run(run, cells, index, f"the kernel did not start again after it stopped "
                                                                 f"{run.restarts} times; the grader gave up on the "
                                                                 "rest of the notebook")
                        break
                    continue
                need_kernel = False
            outcome = await self._run_cell(run, cell, index)
            if outcome is not None:
                run.failed_runs.add(index)
                cell.outputs.append(verdicts.error_output(*outcome))
                where = nbgrader_meta(cell).get("grade_id") or f"cell {index + 1}"
                run.notes.append(f"In {where}: {outcome[1]}.")
                await self._end_kernel(run)
                run.restarts += 1
                need_kernel = True
                if run.restarts > self.max_restarts:
                    verdicts.mark_not_run(run, cells, index + 1, f"the kernel stopped {run.restarts} times; the "
                                                                 "grader gave up on the rest of the notebook")
                    break
            index += 1

    # --- kernels ----------------------------------------------------------------------------

    def create_kernel_manager(self) -> Any:
        km = super().create_kernel_manager()
        if isinstance(km, SandboxedKernelManager) and self.sandbox:
            km.files = self._kernel_files
            if self.kernel_transport == "ipc" and not km.use_ipc(self._kernel_files.folder / "runtime"):
                self.log.warning("The kernel listens on loopback TCP ports: ZeroMQ has no ipc transport here, or "
                                 "the path of its private folder is too long for a Unix socket")
        return km

    async def _start_kernel_retrying(self, run: Run, index: int) -> str | None:
        """Start a kernel as :meth:`_start_kernel` does, up to ``start_attempts`` times, each
        with a new kernel manager and so fresh ports; None once one has started, else why
        the last attempt failed."""
        problem = "no attempt was made"
        for attempt in range(1, max(1, self.start_attempts) + 1):
            if attempt > 1 and run.remaining() < 1:
                return f"{problem}; the notebook's time ran out before another attempt"
            try:
                await self._start_kernel(run, index)
                return None
            except Exception as error:  # whatever stops a start: a port in use, a kernel that exits, no kernelspec
                problem = (f"the kernel took no message in {SEND_SECONDS} s; another program may hold one of its "
                           "ports" if isinstance(error, zmq.Again) else f"{type(error).__name__}: {error}")
                self.log.warning("The kernel did not start (attempt %d of %d): %s", attempt, self.start_attempts,
                                 problem)
                await self._end_kernel(run)
        return problem

    async def _start_kernel(self, run: Run, index: int) -> None:
        """Start a kernel; after a restart, replay the cells before ``index`` (not tests)."""
        self._kernel_files = self._sandbox.prepare_kernel()
        self.km = None
        self.kc = None
        self.km = self.create_kernel_manager()
        await self.async_start_new_kernel(env=self._kernel_files.env, cwd=str(self._sandbox.submission))
        await self.async_start_new_kernel_client()
        pid = getattr(self.km, "kernel_pid", None)
        if pid:
            run.kernel_pids.add(pid)
        assert self.kc is not None
        info = await self.async_wait_for_reply(await _ensure(self.kc.kernel_info()))
        if info is not None and "language_info" in info["content"]:
            self.nb.metadata["language_info"] = info["content"]["language_info"]
        if self.sealed_tests and getattr(self.km, "wrapped", False):
            problem = await self._arm(run)
            if problem is not None:
                run.flag("", f"the grader could not arm its in-kernel guard ({problem})")
                run.notes.append(f"The grader could not arm its in-kernel guard ({problem}): no test can be verified.")
        elif self.sealed_tests and self.sandbox:
            run.notes.append("The kernel is not an IPython kernel the grader can contain: tests were not verified.")
            run.flag("", "the kernel could not be contained, so its tests were not verified")
        if run.restarts:
            await self._replay(run, index)

    async def _arm(self, run: Run) -> str | None:
        """Arm the kernel's sentinel: None once it has answered "armed" with a verified
        verdict, else why it is not armed."""
        nonce = protocol.new_nonce()
        ciphertext, tag = protocol.seal(self._kernel_files.key, nonce, {"kind": "arm"})
        cell = NotebookNode(cell_type="code", source=protocol.stub(nonce, ciphertext, tag), metadata=NotebookNode(),
                            outputs=[], execution_count=None)
        run.expected[-1] = nonce
        last = self.nb.cells[-1] if self.nb.cells else None
        with self._cell_limits(run, cell, 60):
            with contextlib.suppress(Exception):
                # nbclient stores the executed cell at the index it is given: put the real one back.
                await self.async_execute_cell(cell, -1, store_history=False)
        if last is not None:
            self.nb.cells[-1] = last
        verdict = run.verdicts.pop(nonce, None)
        run.expected.pop(-1, None)
        if verdict is None:
            return "it gave no verified answer"
        if verdict.get("outcome") == "armed":
            return None
        return str(verdict.get("reason") or verdict.get("outcome"))

    async def _replay(self, run: Run, index: int) -> None:
        """Run again the cells before ``index`` that ran to their end, except tests, so that
        the notebook's state is back (its outputs are not kept)."""
        run.replaying = True
        try:
            for i in range(index):
                cell = self.nb.cells[i]
                if (run.kinds[i] not in ("answer", "locked", "other") or i not in run.completed
                        or not cell.source.strip()):
                    continue
                if run.remaining() < 1:
                    break
                original = cell
                replica = copy.deepcopy(cell)
                try:
                    outcome = await self._run_cell(run, replica, i)
                finally:
                    self.nb.cells[i] = original
                if outcome is not None:
                    run.notes.append(f"Cell {i + 1} stopped the kernel again when re-run after a restart.")
                    break
        finally:
            run.replaying = False

    # --- cells ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _cell_limits(self, run: Run, cell: NotebookNode, seconds: float) -> Any:
        # getattr: mypy cannot infer these traits' types, which this method assigns below.
        saved: tuple[Any, Any] = (getattr(self, "timeout_func"), getattr(self, "error_on_timeout"))  # noqa: B009
        limit = max(1, int(min(seconds, run.remaining())))
        run.cell_timeout = limit
        self._watchdog.clock.start()
        self.timeout_func = lambda _cell: limit
        why = (f"this cell ran for more than {limit} s"
               + (" and the notebook's time ran out" if limit < seconds else "")
               + "; it was interrupted")
        self.error_on_timeout = {"ename": "CellTimeoutError", "evalue": why, "traceback": [f"CellTimeoutError: {why}"]}
        try:
            yield
        finally:
            self.timeout_func, self.error_on_timeout = saved

    async def _async_handle_timeout(self, timeout: int, cell: NotebookNode | None = None) -> dict[str, Any] | None:
        """At a cell's timeout: a demonstration that a busy machine held back runs on until its
        clock has counted the timeout (see ``busy_stretch``); then, and for every other cell,
        it is interrupted as nbclient does."""
        run: Run | None = getattr(self, "_grading", None)
        if run is not None and cell is not None and run.cell_stretches and self.kc is not None:
            clock = self._watchdog.clock
            cap = min(self.busy_stretch * run.cell_timeout, clock.wall() + run.remaining())
            if clock.seconds() < run.cell_timeout - 1 and clock.wall() < cap:
                self.log.info("Demonstration %s ran %.0f s on a busy machine, of which %.0f s counted: it may run "
                              "on", cell.get("id", "?"), clock.wall(), clock.seconds())
            rounds = 0
            while clock.seconds() < run.cell_timeout and clock.wall() < cap:
                if await _ensure(self.kc.shell_channel.msg_ready()):
                    return None  # its reply (or another message): nbclient reads it at once
                rounds += 1
                if rounds % 5 == 0:
                    await self._async_check_alive()  # once a second, as nbclient does while it waits
                await asyncio.sleep(0.2)
            if clock.wall() > timeout + 1:
                why = (f"this cell ran for more than {clock.wall():.0f} s on a busy machine ({run.cell_timeout} s "
                       "counting only the time the machine let it run); it was interrupted")
                self.error_on_timeout = {"ename": "CellTimeoutError", "evalue": why,
                                         "traceback": [f"CellTimeoutError: {why}"]}
        return await super()._async_handle_timeout(timeout, cell)

    async def _run_cell(self, run: Run, cell: NotebookNode, index: int) -> tuple[str, str] | None:
        """Run one cell. Returns None if the kernel is still usable, else (ename, evalue) for
        the error output that says why it is not (it died, or hung past its timeout)."""
        kind = run.kinds[index]
        seconds = run.limits.answer_seconds if kind == "answer" else run.limits.cell_seconds
        if kind == "other":
            seconds = min(seconds, self.after_hang_timeout if run.timed_out else self.demo_timeout)
        # Demonstrations only, and only before a cell has hung: they run the course's honest
        # code for seconds, near their short timeout on a busy machine. Tests and answers have
        # room to spare, and after a hang a demonstration most likely calls the hung answer.
        run.cell_stretches = kind == "other" and not run.timed_out
        original = cell.source
        nonce = None
        if kind in ("test", "locked") and self.sealed_tests and getattr(self.km, "wrapped", False):
            nonce = protocol.new_nonce()
            awaited = awaits_at_top_level(original)
            message = {"kind": kind, "grade_id": nbgrader_meta(cell).get("grade_id"), "source": original,
                       "awaited": awaited}
            ciphertext, tag = protocol.seal(self._kernel_files.key, nonce, message)
            cell.source = protocol.stub(nonce, ciphertext, tag, awaited=awaited)
            run.expected[index] = nonce
        try:
            with self._cell_limits(run, cell, seconds):
                await self.async_execute_cell(cell, index, execution_count=self.code_cells_executed + 1)
        except DeadKernelError:
            return self._death()
        except CellTimeoutError:
            await asyncio.sleep(0)
            if self.km is not None and not await _ensure(self.km.is_alive()):
                return self._death()  # it ended by itself about its timeout: a death, not a hang
            run.timed_out = True
            return verdicts.hang(run.cell_timeout)
        finally:
            cell.source = original
            run.expected.pop(index, None)
        if any(out.get("ename") == "CellTimeoutError" for out in cell.get("outputs", [])):
            run.timed_out = True  # interrupted at its timeout; the kernel lives on
        if self._watchdog.check_disk():
            return self._death()
        run.completed.add(index)
        if not run.replaying:
            verdicts.check_cell(run, cell, index, kind, nonce)
        return None

    def _death(self) -> tuple[str, str]:
        """(ename, evalue) for the cell the kernel stopped in: the watchdog's reason, or the kernel's exit status."""
        code = None
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        if process is not None:
            with contextlib.suppress(Exception):
                code = process.poll()
        return verdicts.death(self._watchdog.violation, code)

    # --- messages from the kernel ------------------------------------------------------------------

    def output(self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None,
               cell_index: int) -> NotebookNode | None:
        run: Run | None = getattr(self, "_grading", None)
        content = msg.get("content", {})
        if run is not None and msg.get("msg_type") == "display_data" and protocol.MIMETYPE in content.get("data", {}):
            verdicts.receive_verdict(run, self._kernel_files.key, cell_index, content["data"][protocol.MIMETYPE])
            return None
        if run is None or run.replaying:
            return None if run is not None else super().output(outs, msg, display_id, cell_index)
        if msg.get("msg_type") == "stream" and content.get("name") == "stderr":
            text, left_out = without_kernel_lines(str(content.get("text", "")))
            if left_out:
                run.kernel_lines.add(cell_index)
                if not text:
                    return None
                content = {**content, "text": text}
                msg = {**msg, "content": content}
        size = len(json.dumps(content.get("data", content.get("text", "")), default=str))
        if run.output_bytes + size > run.limits.output_bytes:
            if cell_index not in run.output_cut:
                run.output_cut.add(cell_index)
                outs.append(NotebookNode(output_type="stream", name="stdout",
                                         text="\n[... output cut by the grader ...]\n"))
                if self.km is not None:
                    interrupt = asyncio.ensure_future(_ensure(self.km.interrupt_kernel()))
                    run.interrupts.add(interrupt)
                    interrupt.add_done_callback(run.interrupts.discard)
            return None
        run.output_bytes += size
        out: NotebookNode | None = super().output(outs, msg, display_id, cell_index)
        return out

    # --- ending kernels ----------------------------------------------------------------------------

    async def _shut_down_kernel(self, now: bool) -> None:
        """Shut the kernel down and forget it and its client.

        What nbclient's ``NotebookClient._async_cleanup_kernel`` does, with jupyter_client's
        public kernel manager and client API: nbclient has no public method for it (its own
        is private, and run only by ``setup_kernel``, which this grader cannot use: it starts
        a kernel again after a death, in the same run).
        """
        km, kc = self.km, self.kc
        self.km = None
        self.kc = None
        if km is not None:
            with contextlib.suppress(Exception):
                if now or await _ensure(km.is_alive()):
                    await _ensure(km.shutdown_kernel(now=now))
            with contextlib.suppress(Exception):
                await _ensure(km.cleanup_resources())
        if kc is not None:
            with contextlib.suppress(Exception):
                kc.stop_channels()

    async def _end_kernel(self, run: Run) -> None:
        """After a death or hang: kill the kernel and everything it started."""
        await self._shut_down_kernel(now=True)
        end_all(self._processes, grace=0.0, keep=())
        reap_adopted()
        # What the dead kernel wrote goes with it (a flood of files would stop the next one
        # at once); the cells replayed after the restart write again what they need.
        remove_shared_memory(self._sandbox.uid)
        self._sandbox.discard_folders()
        remove_new_files(self._sandbox.submission, run.initial_files)
        self._watchdog.violation = None

    def _stop_kernel(self) -> None:
        """After the notebook: shut the kernel down politely (children may clean up), or
        at once if nbclient's ``shutdown_kernel`` setting says "immediate"."""
        if self.km is None:
            return
        with contextlib.suppress(Exception):
            run_sync(self._shut_down_kernel)(now=self.shutdown_kernel == "immediate")
        self.km = None
        self.kc = None
