"""``HardenedExecute``: nbgrader's ``Execute``, bounded, contained, and unable to drop a
submission silently.

It runs a submission's notebook as nbgrader's ``Execute`` does, cell by cell in one kernel,
and adds:

* **Bounds.** A total time per notebook (each cell's timeout shrinks to what is left of
  it), a shorter timeout for answer cells (they define functions; they do not compute),
  a cap on processes and threads, on memory, and on the output kept.
* **Containment.** The kernel starts contained (:mod:`grader.sandbox`): on Linux as
  a user of its own when grading as root, in a Landlock sandbox, with none of the
  grader's environment but what a Python needs and nbgrader's ``NBGRADER_EXECUTION``.
  After the notebook, and after every kernel death, every process it started is ended
  (:mod:`grader.processes`), and the course's files are checked and put back
  (:mod:`grader.guard`). Modules submitted beside the notebook are removed; nbgrader's
  own files there are held out of the kernel's reach while it runs.
* **No silent drops.** A kernel that dies (a crash, ``os._exit``, a cap exceeded) is
  restarted, the cells before the one it died in are run again except the tests (so that
  later exercises are still graded), and grading goes on; a cell that could not run gets an
  error output that says why, so a test that could not run scores 0, and a note at the top
  of the graded notebook (and so of the feedback) says what happened. Up to
  ``max_restarts`` times; after that the remaining cells are marked as not run.
* **Tamper resistance.** Test cells and locked helper cells are sent sealed to the kernel's
  sentinel (:mod:`grader_kernel.sentinel`), which runs them on a restored kernel and signs
  the outcome. A test counts only with a verified verdict; one whose verdict is missing or
  shows tampering while it ran scores 0. Answers are scanned for tampering APIs
  (:mod:`grader.scan`). What needs an instructor's eye is passed on to
  :class:`grader.review.FlagForReview` through ``resources["course_grading"]``.

Configure it in ``nbgrader_config.py`` (``c.HardenedExecute.total_seconds = ...``); the
per-cell timeout is nbgrader's ``c.Execute.timeout``.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import copy
import dataclasses
import json
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader.coursedir import CourseDirectory  # type: ignore[import-untyped]
from nbgrader.preprocessors import Execute  # type: ignore[import-untyped]
from traitlets import Bool, Float, Integer, List, Unicode

from grader import scan
from grader.guard import CourseGuard
from grader.kernelmanager import SandboxedKernelManager
from grader.processes import ProcessSet, Watchdog, end_all, reap_adopted, remove_shared_memory
from grader.sandbox import LINUX, Limits, Sandbox
from grader.sanitize import fit_cell
from grader_kernel import privileges, protocol

__all__ = ["HardenedExecute", "notes_cell", "shadows_imports"]

# What Python can import from the notebook's folder (its own suffixes, and those of other
# versions and platforms): a submitted module of a name the tests import would replace it.
_IMPORT_SUFFIXES = (".py", ".pyc", ".pyo", ".pyw", ".pyd", ".so")
# nbgrader's own files in the autograded folder, besides the assignment's notebooks.
_NBGRADER_FILES = ("timestamp.txt",)

# Modules every test leans on, snapshotted even when no test cell imports them by name.
_ALWAYS_PREIMPORT = ("course.checks", "course.workers", "course.capture", "multiprocessing.pool",
                     "multiprocessing.managers", "multiprocessing.queues", "multiprocessing.connection",
                     "multiprocessing.synchronize", "multiprocessing.sharedctypes", "concurrent.futures.thread",
                     "concurrent.futures.process", "queue", "tempfile", "inspect", "traceback", "logging")


def _node(**fields: Any) -> NotebookNode:
    return NotebookNode(fields)


def notes_cell(nb: NotebookNode, notes: list[str]) -> NotebookNode:
    """The **Grading notes** cell at the top of a graded notebook."""
    text = "**Grading notes** (written by the grader)\n\n" + "\n".join(f"* {note}" for note in notes)
    cell = fit_cell(nb, nbformat.v4.new_markdown_cell(text))
    cell.metadata["course_grading"] = True
    return cell


def shadows_imports(relative: str) -> bool:
    """Whether a file at ``relative`` in the notebook's folder is one Python could import
    there (a module, a compiled module, or a file of a package)."""
    return relative.lower().endswith(_IMPORT_SUFFIXES)


def _error_output(ename: str, evalue: str) -> NotebookNode:
    return _node(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _meta(cell: NotebookNode) -> dict[str, Any]:
    return dict(cell.metadata.get("nbgrader", {}))


def _kind(cell: NotebookNode) -> str:
    """'test', 'locked' (a locked helper cell), 'answer' or 'other', for a code cell."""
    meta = _meta(cell)
    if meta.get("solution"):
        return "answer"
    if meta.get("grade"):
        return "test"
    if meta.get("locked"):
        return "locked"
    return "other"


def _imports(source: str) -> set[str]:
    """Modules a cell imports (IPython magics left out)."""
    try:
        tree = ast.parse("\n".join("" if line.lstrip().startswith(("%", "!")) else line
                                   for line in source.splitlines()))
    except SyntaxError:
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(code).name
    except ValueError:
        return f"signal {code}"


@dataclasses.dataclass
class _Run:
    """What happens while one notebook is graded."""

    limits: Limits
    deadline: float
    kinds: list[str]
    notes: list[str] = dataclasses.field(default_factory=list)
    flags: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    verdicts: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    expected: dict[int, str] = dataclasses.field(default_factory=dict)  # cell index -> nonce
    completed: set[int] = dataclasses.field(default_factory=set)  # cells that ran to the end
    failed_runs: set[int] = dataclasses.field(default_factory=set)  # cells that killed or hung the kernel
    output_bytes: int = 0
    output_cut: set[int] = dataclasses.field(default_factory=set)
    interrupts: set[asyncio.Future[Any]] = dataclasses.field(default_factory=set)  # kept until they are done
    restarts: int = 0
    kernel_pids: set[int] = dataclasses.field(default_factory=set)
    initial_files: set[Path] = dataclasses.field(default_factory=set)  # in the submission folder
    replaying: bool = False
    cell_started: float = 0.0
    cell_timeout: float = 0.0

    def flag(self, where: str, message: str) -> None:
        self.flags.setdefault(where, []).append(message)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


class HardenedExecute(Execute):
    """Execute a submission within bounds, contained, tamper-resistant, never dropping it."""

    total_seconds = Float(180.0, help=(
        "Wall-clock seconds for a whole notebook, kernel restarts included. Each cell's timeout "
        "(Execute.timeout) shrinks to what is left; cells not reached score 0.")).tag(config=True)
    answer_timeout = Integer(20, help=(
        "Seconds an answer cell (nbgrader solution cell) may run: answers define functions and "
        "classes, they do not compute.")).tag(config=True)
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
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        started = time.monotonic()
        limits = Limits(total_seconds=self.total_seconds, cell_seconds=int(self.timeout or 60),
                        answer_seconds=self.answer_timeout, max_tasks=self.max_tasks,
                        memory_bytes=self.memory_mb * 2**20, output_bytes=self.output_kb * 1024,
                        file_bytes=self.file_mb * 2**20)
        cells = nb.cells
        run = _Run(limits=limits, deadline=started + limits.total_seconds,
                   kinds=[_kind(cell) if cell.cell_type == "code" else "markdown" for cell in cells])
        self._grading = run
        coursedir = CourseDirectory(config=self.config)
        course_root = Path(coursedir.root).resolve()
        submission = Path(resources.get("metadata", {}).get("path") or ".").resolve()
        info = resources.get("nbgrader", {})
        notebook_name = info.get("notebook", "")
        assignment = info.get("assignment", "")
        source = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
        self._scan_answers(run, nb, source / f"{notebook_name}.ipynb")
        self._remove_extra_files(run, submission, source, assignment)
        # The sanitized notebook in the submission folder holds the hidden tests: the kernel
        # must not read it. nbgrader writes the graded notebook there afterwards.
        with contextlib.suppress(OSError):
            (submission / f"{notebook_name}.ipynb").unlink()
        gradebook = _gradebook_path(info.get("db_url", ""))
        guard = CourseGuard(course_root, gradebook, [submission])  # in the run this process grades in
        preimport = sorted({name for cell, kind in zip(cells, run.kinds, strict=True) if kind in ("test", "locked")
                            for name in _imports(cell.source)} | set(_ALWAYS_PREIMPORT))
        sandbox = Sandbox(course_root, submission, limits, self.student_uid_base if self.sandbox else 0,
                          preimport, self.kernel_env_keep, self.log)
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
        held = _hold(submission, notebook_name)
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
            _give_back(held, submission)  # the kernel has gone; close() gives them back to the grader's user
            sandbox.close()
            changes = guard.check_and_restore()
            guard.close()
            if changes:
                for change in changes:
                    run.flag("", f"the course's files changed while the notebook ran: {change}")
                run.notes.append("The notebook changed files of the course; they were put back and the "
                                 "submission is flagged for review.")
        seconds = time.monotonic() - started
        self.log.info("Graded %s/%s in %.1f s (peak %d processes and threads, %.0f MB)", info.get("student"),
                      notebook_name, seconds, watchdog.peak.tasks, watchdog.peak.rss_bytes / 2**20)
        self._finish(run, nb, resources, seconds, watchdog)
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
            "Hardened grading: kernels run as %s; files: %s; left-over processes found %s",
            f"their own user (from uid {self.student_uid_base})" if sandbox.uid is not None else "the grader's user",
            f"Landlock ABI {abi} (writes and reads of the course prevented)" if abi else
            "no Landlock here (course files checked and restored after each notebook instead)",
            "by user" if sandbox.uid is not None else "as adopted orphans (child subreaper)" if reaper_available else
            "as descendants only (a detached daemon can survive on this platform)")
        if not self.sandbox or not self.sealed_tests:
            self.log.warning("Hardened grading is partly off (sandbox=%s, sealed_tests=%s)",
                             self.sandbox, self.sealed_tests)

    def _run_sync(self, run: _Run) -> None:
        from jupyter_core.utils import run_sync

        run_sync(self._execute_notebook)(run)

    async def _execute_notebook(self, run: _Run) -> None:
        cells = self.nb.cells
        index = 0
        # Started before the first cell even when no cell has code, as nbgrader's Execute
        # does: a kernel that cannot start before any student code ran (a kernelspec the
        # machine lacks) is nbgrader's error for this submission, as without this grader.
        await self._start_kernel(run, 0)
        need_kernel = False
        while index < len(cells):
            cell = cells[index]
            if cell.cell_type != "code" or not cell.source.strip():
                index += 1
                continue
            if run.remaining() < 1:
                self._not_run(run, index, f"the notebook's time ({run.limits.total_seconds:g} s) ran out before "
                                          "this cell")
                break
            if need_kernel:
                try:
                    await self._start_kernel(run, index)
                except Exception as error:
                    if not run.restarts:
                        raise  # before any student code ran: the grader's own problem, reported as such
                    self.log.warning("The kernel did not start again after a restart: %s", error)
                    await self._end_kernel(run)
                    run.restarts += 1
                    if run.restarts > self.max_restarts:
                        self._not_run(run, index, f"the kernel did not start again after it stopped {run.restarts} "
                                                  "times; the grader gave up on the rest of the notebook")
                        break
                    continue
                need_kernel = False
            outcome = await self._run_cell(run, cell, index)
            if outcome is not None:
                run.failed_runs.add(index)
                cell.outputs.append(_error_output(*outcome))
                where = _meta(cell).get("grade_id") or f"cell {index + 1}"
                run.notes.append(f"In {where}: {outcome[1]}.")
                await self._end_kernel(run)
                run.restarts += 1
                need_kernel = True
                if run.restarts > self.max_restarts:
                    self._not_run(run, index + 1, f"the kernel stopped {run.restarts} times; the grader gave up "
                                                  "on the rest of the notebook")
                    break
            index += 1

    def _not_run(self, run: _Run, start: int, why: str) -> None:
        cells = self.nb.cells
        skipped = [i for i in range(start, len(cells)) if run.kinds[i] in ("test", "locked", "answer", "other")
                   and cells[i].source.strip()]
        for i in skipped:
            cells[i].outputs = [_error_output("CellNotRun", f"This cell was not run: {why}.")]
        if skipped:
            run.notes.append(f"{len(skipped)} cell(s) were not run: {why}. Tests among them score 0.")

    # --- kernels ----------------------------------------------------------------------------

    def create_kernel_manager(self) -> Any:
        km = super().create_kernel_manager()
        if isinstance(km, SandboxedKernelManager) and self.sandbox:
            km.files = self._kernel_files
        return km

    async def _start_kernel(self, run: _Run, index: int) -> None:
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
            armed = await self._arm(run)
            if not armed:
                run.flag("", "the grader could not arm its in-kernel guard")
                run.notes.append("The grader could not arm its in-kernel guard: no test can be verified.")
        elif self.sealed_tests and self.sandbox:
            run.notes.append("The kernel is not an IPython kernel the grader can contain: tests were not verified.")
            run.flag("", "the kernel could not be contained, so its tests were not verified")
        if run.restarts:
            await self._replay(run, index)

    async def _arm(self, run: _Run) -> bool:
        nonce = protocol.new_nonce()
        ciphertext, tag = protocol.seal(self._kernel_files.key, nonce, {"kind": "arm"})
        cell = _node(cell_type="code", source=protocol.stub(nonce, ciphertext, tag), metadata=_node(),
                     outputs=[], execution_count=None)
        run.expected[-1] = nonce
        self._current_index = -1
        last = self.nb.cells[-1] if self.nb.cells else None
        with self._cell_limits(run, cell, 60):
            with contextlib.suppress(Exception):
                # nbclient stores the executed cell at the index it is given: put the real one back.
                await self.async_execute_cell(cell, -1, store_history=False)
        if last is not None:
            self.nb.cells[-1] = last
        verdict = run.verdicts.pop(nonce, None)
        run.expected.pop(-1, None)
        return verdict is not None and verdict.get("outcome") == "armed"

    async def _replay(self, run: _Run, index: int) -> None:
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

    async def _end_kernel(self, run: _Run) -> None:
        """After a death or hang: kill the kernel and everything it started."""
        km = self.km
        if km is not None:
            with contextlib.suppress(Exception):
                await _ensure(km.shutdown_kernel(now=True))
            with contextlib.suppress(Exception):
                await _ensure(km.cleanup_resources())
        if self.kc is not None:
            with contextlib.suppress(Exception):
                self.kc.stop_channels()
        self.kc = None
        self.km = None
        end_all(self._processes, grace=0.0, keep=())
        reap_adopted()
        # What the dead kernel wrote goes with it (a flood of files would stop the next one
        # at once); the cells replayed after the restart write again what they need.
        remove_shared_memory(self._sandbox.uid)
        self._sandbox.discard_folders()
        for path in sorted(self._sandbox.submission.rglob("*"), reverse=True):
            relative = path.relative_to(self._sandbox.submission)
            if relative in run.initial_files:
                continue
            with contextlib.suppress(OSError):
                path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
        self._watchdog.violation = None

    def _stop_kernel(self) -> None:
        """After the notebook: shut the kernel down politely (children may clean up)."""
        if self.km is None:
            return
        with contextlib.suppress(Exception):
            self._cleanup_kernel()
        self.km = None
        self.kc = None

    # --- cells ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _cell_limits(self, run: _Run, cell: NotebookNode, seconds: float) -> Any:
        # getattr: mypy cannot infer these traits' types, which this method assigns below.
        saved: tuple[Any, Any] = (getattr(self, "timeout_func"), getattr(self, "error_on_timeout"))  # noqa: B009
        limit = max(1, int(min(seconds, run.remaining())))
        run.cell_timeout = limit
        run.cell_started = time.monotonic()
        self.timeout_func = lambda _cell: limit
        why = (f"this cell ran for more than {limit} s"
               + (" and the notebook's time ran out" if limit < seconds else "")
               + "; it was interrupted")
        self.error_on_timeout = {"ename": "CellTimeoutError", "evalue": why, "traceback": [f"CellTimeoutError: {why}"]}
        try:
            yield
        finally:
            self.timeout_func, self.error_on_timeout = saved

    async def _run_cell(self, run: _Run, cell: NotebookNode, index: int) -> tuple[str, str] | None:
        """Run one cell. Returns None if the kernel is still usable, else (ename, evalue) for
        the error output that says why it is not (it died, or hung past its timeout)."""
        kind = run.kinds[index]
        seconds = run.limits.answer_seconds if kind == "answer" else run.limits.cell_seconds
        original = cell.source
        nonce = None
        if kind in ("test", "locked") and self.sealed_tests and getattr(self.km, "wrapped", False):
            nonce = protocol.new_nonce()
            ciphertext, tag = protocol.seal(self._kernel_files.key, nonce,
                                            {"kind": kind, "grade_id": _meta(cell).get("grade_id"), "source": original})
            cell.source = protocol.stub(nonce, ciphertext, tag)
            run.expected[index] = nonce
        self._current_index = index
        try:
            with self._cell_limits(run, cell, seconds):
                await self.async_execute_cell(cell, index, execution_count=self.code_cells_executed + 1)
        except DeadKernelError:
            return self._death(run)
        except CellTimeoutError:
            await asyncio.sleep(0)
            return ("CellTimeoutError", f"this cell ran for more than {run.cell_timeout:g} s and did not stop "
                                        "when interrupted; the kernel was restarted")
        finally:
            cell.source = original
            run.expected.pop(index, None)
        if self._watchdog.violation:
            return self._death(run)
        run.completed.add(index)
        if not run.replaying:
            self._check_cell(run, cell, index, kind, nonce)
        return None

    def _death(self, run: _Run) -> tuple[str, str]:
        violation = self._watchdog.violation
        if violation:
            return ("GradingLimitExceeded", f"{violation}; they were all ended, and the kernel restarted")
        code = None
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        if process is not None:
            with contextlib.suppress(Exception):
                code = process.poll()
        if code is None:
            how = "the kernel stopped"
        elif code < 0:
            name = _signal_name(-code)
            how = f"the kernel was killed by {name}" + {
                "SIGSEGV": " (a crash)", "SIGKILL": " (perhaps it ran out of memory)", "SIGABRT": " (an abort)",
                "SIGXFSZ": " (a file grew too large)"}.get(name, "")
        else:
            how = f"the kernel exited with status {code} (os._exit or sys.exit in the kernel itself)"
        return ("KernelDied", f"{how} while running this cell; it was restarted")

    def _check_cell(self, run: _Run, cell: NotebookNode, index: int, kind: str, nonce: str | None) -> None:
        """Apply the sentinel's verdict to a sealed cell's outputs and the review flags."""
        if index in run.output_cut:
            cell.outputs.append(_error_output("OutputLimitExceeded", (
                f"this cell printed more than the notebook may keep ({run.limits.output_bytes // 1024} kB); "
                "the rest was cut and the cell interrupted")))
        if nonce is None:
            return
        grade_id = _meta(cell).get("grade_id", f"cell {index + 1}")
        verdict = run.verdicts.pop(nonce, None)
        if verdict is None:
            if kind == "test":
                cell.outputs.append(_error_output("GradingIntegrityError", (
                    "the grader could not confirm that this test ran as written (no verdict from its in-kernel "
                    "guard: something in the notebook intercepted it); it scores 0")))
            run.flag(grade_id, f"{grade_id}: no verified verdict (the cell was intercepted)")
            return
        outcome = verdict.get("outcome")
        for change in verdict.get("before", []) + [f"refused: {r}" for r in verdict.get("refused_before", [])]:
            run.flag(grade_id, f"before {grade_id}: {change} (undone before the cell ran)")
        refused = [f"refused: {r}" for r in verdict.get("refused", [])]
        during = verdict.get("during", []) + refused
        if outcome in ("rejected", "error"):
            cell.outputs.append(_error_output("GradingIntegrityError",
                                              f"the grader's guard failed: {verdict.get('reason')}"))
            run.flag(grade_id, f"{grade_id}: {verdict.get('reason')}")
            return
        if kind != "test":
            for change in during:
                run.flag(grade_id, f"while {grade_id} ran: {change}")
            return
        for refusal in refused:  # an attempt, even when the test failed anyway
            run.flag(grade_id, f"while {grade_id} ran: {refusal}")
        if during and outcome == "passed":
            # (A test that failed scores 0 anyway, and may have failed half-way through
            # patching something; what changed is undone either way.)
            cell.outputs.append(_error_output("GradingIntegrityError", (
                "while this test ran, the code it called changed what the test relies on ("
                + "; ".join(during[:5]) + "); the test scores 0")))
            for change in during:
                run.flag(grade_id, f"while {grade_id} ran: {change}")
        if outcome == "did not run":
            cell.outputs.append(_error_output("GradingIntegrityError", (
                "this test did not run: something in the notebook kept the grader's copy of it from running; "
                "it scores 0")))
            run.flag(grade_id, f"{grade_id}: the test did not run (its stub was altered)")
        elif outcome != "passed" and not any(out.output_type == "error" for out in cell.outputs):
            cell.outputs.append(_error_output(str(verdict.get("ename", "TestFailed")), str(verdict.get("evalue", ""))))

    # --- messages from the kernel ------------------------------------------------------------------

    def output(self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None,
               cell_index: int) -> NotebookNode | None:
        run: _Run | None = getattr(self, "_grading", None)
        content = msg.get("content", {})
        if run is not None and msg.get("msg_type") == "display_data" and protocol.MIMETYPE in content.get("data", {}):
            self._receive_verdict(run, cell_index, content["data"][protocol.MIMETYPE])
            return None
        if run is None or run.replaying:
            return None if run is not None else super().output(outs, msg, display_id, cell_index)
        size = len(json.dumps(content.get("data", content.get("text", "")), default=str))
        if run.output_bytes + size > run.limits.output_bytes:
            if cell_index not in run.output_cut:
                run.output_cut.add(cell_index)
                outs.append(_node(output_type="stream", name="stdout", text="\n[... output cut by the grader ...]\n"))
                if self.km is not None:
                    interrupt = asyncio.ensure_future(_ensure(self.km.interrupt_kernel()))
                    run.interrupts.add(interrupt)
                    interrupt.add_done_callback(run.interrupts.discard)
            return None
        run.output_bytes += size
        out: NotebookNode | None = super().output(outs, msg, display_id, cell_index)
        return out

    def _receive_verdict(self, run: _Run, cell_index: int, data: Any) -> None:
        if not isinstance(data, dict):
            return
        nonce, payload, tag = data.get("nonce"), data.get("payload"), data.get("tag")
        if (not isinstance(nonce, str) or nonce != run.expected.get(cell_index) or not isinstance(payload, str)
                or not isinstance(tag, str)):
            return  # a verdict for another cell, or a fake
        if nonce in run.verdicts or not protocol.verify(self._kernel_files.key, nonce, payload, tag):
            return
        with contextlib.suppress(ValueError):
            verdict = json.loads(payload)
            if isinstance(verdict, dict):
                run.verdicts[nonce] = verdict

    # --- files -----------------------------------------------------------------------------------------

    def _scan_answers(self, run: _Run, nb: NotebookNode, source_path: Path) -> None:
        """Flag answer cells (and edited unlocked cells) that reach for the grader's machinery."""
        instructor: set[str] = set()
        with contextlib.suppress(Exception):
            source_nb = nbformat.read(source_path, as_version=4)
            instructor = {cell.source for cell in source_nb.cells if cell.cell_type == "code"}
        helpers = {name for cell, kind in zip(nb.cells, run.kinds, strict=True) if kind == "locked"
                   for name in scan.defined_names(cell.source)}
        for index, (cell, kind) in enumerate(zip(nb.cells, run.kinds, strict=True)):
            if kind not in ("answer", "other") or cell.source in instructor:
                continue
            label = _meta(cell).get("grade_id") or f"cell {index + 1}"
            for finding in scan.scan_source(cell.source, helpers):
                # Such code can aim at any test of the notebook: all of them are flagged.
                run.flag("", f"{label}, {finding}")

    def _remove_extra_files(self, run: _Run, submission: Path, source: Path, assignment: str) -> None:
        """Modules submitted beside the notebook could shadow those the tests import. Other
        files stay, as nbgrader keeps them (data, timestamp.txt, the other notebooks)."""
        if self.keep_extra_files or not submission.is_dir():
            return
        # The source folder's files (nbgrader copied them over the student's) and those the
        # instructor lets students hand in (Autograde.exclude_overwriting) are the course's.
        allowed = {p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()}
        allowed |= set(self.config.get("Autograde", {}).get("exclude_overwriting", {}).get(assignment, []))
        removed = []
        for path in sorted(submission.rglob("*"), reverse=True):
            relative = path.relative_to(submission).as_posix()
            if path.is_dir() and not path.is_symlink():
                continue
            if shadows_imports(relative) and relative not in allowed:
                removed.append(relative)
                with contextlib.suppress(OSError):
                    path.unlink()
        if removed:
            shown = ", ".join(sorted(removed)[:10]) + (" ..." if len(removed) > 10 else "")
            run.notes.append(f"Files submitted beside the notebook were not used for grading: {shown}.")

    # --- the report --------------------------------------------------------------------------------------

    def _finish(self, run: _Run, nb: NotebookNode, resources: ResourcesDict, seconds: float,
                watchdog: Watchdog) -> None:
        flagged = sorted({message for messages in run.flags.values() for message in messages})
        if run.restarts:
            run.notes.append(f"The kernel was restarted {run.restarts} time(s); after each restart the cells "
                             "before the one that stopped it were run again (tests excepted), and grading went on.")
        if flagged:
            run.notes.append("This submission is flagged for an instructor's review: "
                             + "; ".join(flagged[:8]) + (" ..." if len(flagged) > 8 else ""))
        resources["course_grading"] = {
            "flags": {where: sorted(set(messages)) for where, messages in run.flags.items()},
            "notes": run.notes,
            "seconds": round(seconds, 2),
            "restarts": run.restarts,
            "peak_tasks": watchdog.peak.tasks,
            "peak_mb": round(watchdog.peak.rss_bytes / 2**20),
            "kernel_uid": self._sandbox.uid,
        }
        # Kept in the graded notebook too, for the instructor (and the tests) to read.
        nb.metadata["course_grading"] = dict(resources["course_grading"])
        for note in run.notes:
            self.log.warning("%s", note)
        if run.notes:
            nb.cells.insert(0, notes_cell(nb, run.notes))


async def _ensure(value: Any) -> Any:
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return await value
    return value


def _hold(submission: Path, notebook: str) -> Path | None:
    """Move nbgrader's files out of the submission folder (see ``_give_back``): a folder
    only the grader can read, or None if there was nothing to hold."""
    files = [path for path in submission.glob("*") if path.is_file() and not path.is_symlink()
             and (path.name in _NBGRADER_FILES or (path.suffix == ".ipynb" and path.name != f"{notebook}.ipynb"))]
    if not files:
        return None
    held = Path(tempfile.mkdtemp(prefix="course-grading-held-"))
    for path in files:
        shutil.move(path, held / path.name)
    return held


def _give_back(held: Path | None, submission: Path) -> None:
    """Put the held files back, over anything the notebook wrote in their place."""
    if held is None:
        return
    for path in held.iterdir():
        target = submission / path.name
        with contextlib.suppress(OSError):
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
        shutil.move(path, target)
    shutil.rmtree(held, ignore_errors=True)


def _gradebook_path(db_url: str) -> Path | None:
    prefix = "sqlite:///"
    if db_url.startswith(prefix):
        return Path(db_url[len(prefix):]).resolve()
    return None

