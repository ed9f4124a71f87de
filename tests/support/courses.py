"""Temporary nbgrader courses made from this repository's, and what their graded notebooks show."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import faulthandler
import functools
import hashlib
import io
import multiprocessing
import os
import re
import shutil
import signal
import sysconfig
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from unittest import mock

import nbformat
import psutil
from nbformat import NotebookNode

from support.kernels import KernelSetup
from support.layout import CACHE, ROOT, read, source_notebook

GENERATED = CACHE / "generated"


@dataclasses.dataclass
class Course:
    """An nbgrader course directory in a temporary folder, made from this repository's."""

    path: Path

    @classmethod
    def create(cls, path: Path, assignment: str, template: Path | None = None,
               source: NotebookNode | None = None) -> Course:
        """A course at ``path`` with ``assignment`` generated (its gradebook filled) from
        ``source`` (by default the repository's source notebook). With ``template``, a copy of
        that already generated course instead."""
        if template is None:
            text = (nbformat.writes(source) if source is not None
                    else source_notebook(assignment).read_text(encoding="utf-8"))
            template = generated_course(assignment, text)
        shutil.copytree(template, path)
        return cls(path)

    def nbgrader(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run an nbgrader command in this course, in this process; return its log, or fail
        with the log when it does not succeed.

        In-process, like nbgrader's own app tests (nbgrader.tests.run_nbgrader, which this
        follows but which drops the log on failure): importing nbgrader's apps costs 2.6 s
        of CPU, paid once per test worker instead of once per command. ``env`` replaces the
        environment for the command, and so for the kernels it starts.
        """
        from grader.nbgrader_run import run_nbgrader, tools_on_path

        buffer = io.StringIO()
        with contextlib.chdir(self.path), mock.patch.dict(os.environ, os.environ if env is None else env, clear=True), \
                tools_on_path():
            status = run_nbgrader(args, log=buffer)
        text = buffer.getvalue()
        with open(self.path / "nbgrader.log", "a") as log:
            log.write(f"\n$ nbgrader {' '.join(args)}\n{text}")
        if status != 0:
            raise AssertionError(f"nbgrader {' '.join(args)} exited {status}; log:\n{text[-4000:]}")
        return text

    def submit(self, assignment: str, student: str, nb: NotebookNode) -> None:
        folder = self.path / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{assignment}.ipynb")

    def configure(self, lines: str) -> None:
        """Add ``lines`` to the course's nbgrader_config.py (after the grader's configure(c))."""
        with open(self.path / "nbgrader_config.py", "a") as config:
            config.write(f"\n{lines}\n")

    def autograde(self, assignment: str, kernel: KernelSetup) -> str:
        return self.nbgrader("autograde", assignment, "--force", env=kernel.env())

    def scores(self, assignment: str, student: str) -> dict[str, tuple[float, float]]:
        """grade_id -> (score, max score) for each graded cell of the student's notebook."""
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(f"sqlite:///{self.path / 'gradebook.db'}") as gradebook:
            try:
                notebook = gradebook.find_submission_notebook(assignment, assignment, student)
            except MissingEntry:
                log = (self.path / "nbgrader.log").read_text()
                raise AssertionError(
                    f"the gradebook has no grades for {student!r}; nbgrader's log:\n{log[-4000:]}") from None
            return {grade.name: (grade.score, grade.max_score) for grade in notebook.grades}

    def autograded(self, assignment: str, student: str) -> NotebookNode:
        return read(self.path / "autograded" / student / assignment / f"{assignment}.ipynb")


# How long autograde_at_once waits for its gradings: the grader bounds a notebook at 180 s
# (grader.config's total_seconds) plus kernel starts and clean-up, so a grading still
# running after this is stuck outside those bounds. Generous, for a busy machine; under
# pytest-timeout's 600 s, so that the report below, not a bare timeout, says where.
GRADING_BOUND = 420.0
STACKS = "grading-stacks.txt"  # in each course: its grading process's threads, written on SIGUSR1
TASKS = "grading-tasks.txt"  # and the tasks of the event loop running in its main thread, on SIGUSR2


def autograde_at_once(courses: Sequence[Course], assignment: str, kernel: KernelSetup) -> None:
    """``nbgrader autograde`` in every one of ``courses`` at the same time, each in a process of
    its own; fail with the log of the first that does not succeed, or with where each grading
    still running after GRADING_BOUND s is stuck.

    For gradings that mostly wait (a wrong answer waits out its bound). The processes are
    forked from multiprocessing's fork server, started once per test worker with nbgrader's
    apps imported (its preload), so each starts at no import cost, where a new interpreter
    spends 1.2 CPU s importing them. The test worker itself is not forked: it runs xdist's
    threads, and a fork would copy the locks they hold. The fork server, not this process,
    waits for those processes, so the CPU they use is counted in :func:`forked_cpu_seconds`.
    """
    global _forked_cpu_seconds
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["grader.nbgrader_run", "nbgrader.apps.autogradeapp", "support.courses"])
    env = kernel.env()
    pool = ProcessPoolExecutor(max_workers=len(courses), mp_context=context)
    futures = []
    try:
        futures = [pool.submit(_autograde, course.path, assignment, env) for course in courses]
        _, pending = concurrent.futures.wait(futures, timeout=GRADING_BOUND)
        if pending:
            raise AssertionError(_stuck_report(pool, [course for course, future in zip(courses, futures, strict=True)
                                                      if future in pending]))
        for done in futures:
            _forked_cpu_seconds += done.result()
    finally:
        if not all(future.done() for future in futures):
            # The wait was interrupted (the bound above, the test's time bound, Ctrl-C): end
            # the gradings and their kernels rather than wait for them. ProcessPoolExecutor
            # can end its own processes only from Python 3.14 (terminate_workers), so
            # through its private table of them.
            for process in _pool_processes(pool):
                _end_tree(process)
        pool.shutdown(wait=True, cancel_futures=True)


def _end_tree(root: psutil.Process, bound: float = 30.0) -> None:
    """Kill ``root`` and every process under it, and wait until they have gone.

    Each is stopped before its children are listed, so none starts another (a grading
    restarts a kernel whose cell ran out of time) between the listing and the kills. A
    killed process still runs its exit, which takes a moment on a crowded machine, so the
    processes are waited for, up to ``bound`` s (generous: a SIGKILLed process needs only to
    be scheduled once); one that has exited but is not yet reaped (a zombie) has gone.
    """
    found: dict[int, psutil.Process] = {}
    unlisted = [root]
    while unlisted:
        process = unlisted.pop()
        with contextlib.suppress(psutil.Error):
            process.suspend()
            found[process.pid] = process
            unlisted.extend(child for child in process.children() if child.pid not in found)
    for process in found.values():
        with contextlib.suppress(psutil.Error):
            process.kill()
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline and any(_running(process) for process in found.values()):
        time.sleep(0.05)


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True


def _pool_processes(pool: ProcessPoolExecutor) -> list[psutil.Process]:
    processes = []
    for process in list(getattr(pool, "_processes", {}).values()):
        with contextlib.suppress(psutil.Error):
            processes.append(psutil.Process(process.pid))
    return processes


def _stuck_report(pool: ProcessPoolExecutor, stuck: Sequence[Course]) -> str:
    """Where the gradings of ``stuck`` are: each grading process's threads (faulthandler's
    dump, asked for with SIGUSR1), its event loop's tasks (SIGUSR2), and the processes under
    it. The first line names the innermost calls of the first one's main thread, since a
    test summary shows only that line."""
    processes = _pool_processes(pool)
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.send_signal(signal.SIGUSR1)
            process.send_signal(signal.SIGUSR2)
    time.sleep(1.0)
    parts, first = [], ""
    for course in stuck:
        stacks = course.path / STACKS
        text = stacks.read_text(errors="replace") if stacks.exists() else "(no stacks written)"
        tasks = course.path / TASKS
        first = first or _innermost(text)
        parts.append(f"--- {course.path.name}: its grading's threads, innermost call first:\n{text[-6000:]}")
        if tasks.exists():
            waiting = tasks.read_text(errors="replace")[-4000:]
            parts.append(f"--- {course.path.name}: its event loop's tasks:\n{waiting}")
    for process in processes:
        with contextlib.suppress(psutil.Error):
            tree = [f"{p.pid} {p.name()} {p.status()} {' '.join(p.cmdline())[:160]}"
                    for p in [process, *process.children(recursive=True)]]
            parts.append(f"--- grading process {process.pid} and what it started:\n" + "\n".join(tree))
    names = ", ".join(course.path.name for course in stuck)
    return (f"{len(stuck)} grading(s) still running after {GRADING_BOUND:g} s ({names}); the first is in {first}\n"
            + "\n".join(parts))


def _innermost(stacks: str) -> str:
    """The three innermost calls outside the standard library (an event loop's select says
    nothing) of the main thread in a faulthandler dump, on one line."""
    block = stacks.split("Current thread", 1)[-1] if "Current thread" in stacks else stacks
    stdlib = sysconfig.get_paths()["stdlib"]
    calls = [(file, line, name) for file, line, name in re.findall(r'File "([^"]+)", line (\d+) in (\S+)', block)
             if "site-packages" in file or not file.startswith(stdlib)][:3]
    return " < ".join(f"{name} ({Path(file).name}:{line})" for file, line, name in calls) or "(no stack)"


_forked_cpu_seconds = 0.0
_stacks_file: io.TextIOWrapper | None = None


def forked_cpu_seconds() -> float:
    """CPU seconds used so far by the processes of :func:`autograde_at_once` in this process,
    and by the processes they waited for (the kernels)."""
    return _forked_cpu_seconds


def _write_tasks(path: Path, *_: object) -> None:
    """SIGUSR2's handler in a grading process: where each task of the running event loop
    waits (the grader runs the notebook as coroutines; a thread dump shows only the loop)."""
    with open(path, "w") as file:
        try:
            loop = asyncio.get_running_loop()  # the handler runs in the main thread, inside the loop if any
        except RuntimeError:
            print("(no event loop running)", file=file)
            return
        for task in asyncio.all_tasks(loop):
            task.print_stack(file=file)


def _autograde(path: Path, assignment: str, env: dict[str, str]) -> float:
    """The process of :func:`autograde_at_once` that grades one course; returns the CPU
    seconds it used, its kernels' included. SIGUSR1 writes its threads' stacks to the
    course's STACKS file, SIGUSR2 its event loop's tasks to TASKS."""
    global _stacks_file
    previous, _stacks_file = _stacks_file, open(path / STACKS, "w")  # kept open for the handler
    faulthandler.register(signal.SIGUSR1, file=_stacks_file, all_threads=True)
    if previous is not None:
        previous.close()
    signal.signal(signal.SIGUSR2, functools.partial(_write_tasks, path / TASKS))
    before = os.times()
    Course(path).nbgrader("autograde", assignment, "--force", env=env)
    after = os.times()
    return sum(after[:4]) - sum(before[:4])


@functools.cache
def _generation_inputs() -> bytes:
    """Everything besides the notebook that decides what generate_assignment makes: the
    course's config, the grader package it loads, and the versions of nbgrader and nbconvert
    (read once per process: they do not change during a run)."""
    import nbconvert
    import nbgrader

    parts = [(ROOT / "nbgrader_config.py").read_bytes(), nbgrader.__version__.encode(), nbconvert.__version__.encode()]
    parts += [path.read_bytes() for path in sorted((ROOT / "grader").glob("*.py"))]
    return b"\0".join(parts)


def generated_course(assignment: str, text: str) -> Path:
    """A course folder with ``assignment`` generated from the notebook ``text`` by ``nbgrader
    generate_assignment``, made once and shared by every test worker, and by later runs until
    its inputs change (``.cache/generated/``): each generation costs 2.5 CPU seconds, 2.2 of
    them nbgrader's ``alembic`` command making the new gradebook, and the suite's tests copy
    a generated course a few hundred times. Copy it; do not change it. Courses not used for
    a week are removed when a new one is made."""
    from filelock import FileLock

    key = hashlib.sha256(b"\0".join([assignment.encode(), text.encode(), _generation_inputs()])).hexdigest()[:16]
    folder = GENERATED / f"{assignment}-{key}"
    GENERATED.mkdir(parents=True, exist_ok=True)
    with FileLock(GENERATED / f"{assignment}-{key}.lock"):
        if not folder.exists():
            building = Path(tempfile.mkdtemp(prefix=f"{assignment}-", dir=GENERATED)) / "course"
            building.mkdir()
            shutil.copy(ROOT / "nbgrader_config.py", building)
            (building / "source" / assignment).mkdir(parents=True)
            (building / "source" / assignment / f"{assignment}.ipynb").write_text(text, encoding="utf-8")
            Course(building).nbgrader("generate_assignment", assignment, "--force")
            (building / "nbgrader.log").unlink(missing_ok=True)
            building.rename(folder)
            shutil.rmtree(building.parent)
            _remove_unused(GENERATED, keep=folder)
    os.utime(folder)  # in use: see _remove_unused
    return folder


def _remove_unused(cache: Path, keep: Path, days: float = 7) -> None:
    """Remove the generated courses of ``cache`` not used for ``days`` (their inputs changed since)."""
    from filelock import FileLock, Timeout

    for folder in cache.iterdir():
        if folder == keep or not folder.is_dir() or folder.stat().st_mtime > time.time() - days * 86400:
            continue
        lock = folder.with_name(folder.name + ".lock")
        try:
            with FileLock(lock, timeout=0):
                shutil.rmtree(folder, ignore_errors=True)
        except Timeout:  # another worker is making or using it
            continue
        lock.unlink(missing_ok=True)


# --- what a graded notebook shows ------------------------------------------------------------


def error_outputs(cells: Iterable[NotebookNode]) -> list[tuple[str, str]]:
    """(cell id, 'Name: value') for every error output in these cells."""
    return [
        (cell.get("id", "?"), f"{out.ename}: {out.evalue}")
        for cell in cells if cell.cell_type == "code"
        for out in cell.outputs if out.output_type == "error"
    ]


def stderr_outputs(cells: Iterable[NotebookNode]) -> list[tuple[str, str]]:
    """(cell id, 'stderr: text') for each of these cells that wrote to stderr (nbgrader scores a test that did 0)."""
    return [(cell.get("id", "?"), f"stderr: {text}") for cell in cells if (text := stderr_of(cell))]


def error_tracebacks(cells: Iterable[NotebookNode]) -> str:
    """The tracebacks of every error output in these cells, and their cells' stderr, as
    plain text: what a failing assertion shows about where a cell failed or hung."""
    parts = []
    for cell in cells:
        if cell.cell_type != "code" or not any(out.output_type == "error" for out in cell.outputs):
            continue
        parts.append(f"--- cell {cell.get('id', '?')}")
        for out in cell.outputs:
            if out.output_type == "error":
                parts.append(plain_traceback(out))
            elif out.output_type == "stream" and out.name == "stderr":
                parts.append(out.text)
    return "\n".join(parts)


def plain_traceback(output: NotebookNode) -> str:
    """An error output's traceback as plain text, without the terminal colours IPython adds."""
    return _ANSI.sub("", "\n".join(output.traceback))


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def stderr_of(cell: NotebookNode) -> str:
    return "".join(out.text for out in cell.get("outputs", []) if out.output_type == "stream" and out.name == "stderr")


def execution_seconds(nb: NotebookNode) -> float:
    """Wall time from the first cell's start to the last cell's reply, from nbclient's timing."""
    times = [
        (cell.metadata["execution"]["iopub.execute_input"], cell.metadata["execution"]["shell.execute_reply"])
        for cell in nb.cells if cell.cell_type == "code" and "execution" in cell.metadata
    ]
    if not times:
        raise AssertionError("the executed notebook has no timing metadata")
    parse = lambda stamp: dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return (max(parse(end) for _, end in times) - min(parse(start) for start, _ in times)).total_seconds()
