"""What the browser tests share: a scratch copy of the course, JupyterLab started on it as
``python3 run.py lab`` starts it, headless Chromium driven by Playwright, and steps that
leave a screenshot each.

Nothing here writes to the checkout except ``screenshots/`` (git-ignored): JupyterLab
serves a copy of the course made under the scratch folder, so Run All's autosave,
Validate's save and the formgrader's gradebook all land in the copy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.util
import json
import os
import re
import runpy
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import nbformat
import psutil
import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright

import support

ROOT = support.ROOT
SCREENSHOTS = ROOT / "screenshots"
# Scratch copies of the course, one per test: removed when the test passes, kept (with the
# JupyterLab log) when it fails.
SCRATCH = Path(os.environ.get("COURSE_E2E_SCRATCH", Path(tempfile.gettempdir()) / "e2e-scratch"))

# Generous bounds for waits that only end early when something is broken (milliseconds).
# A notebook runs in about 20 s when the suite loads both CPUs; JupyterLab's first page
# load on a busy 2-CPU machine takes 10-20 s.
PAGE_LOAD_MS = 120_000
RUN_ALL_MS = 240_000
ACTION_MS = 60_000
SERVER_START_S = 120.0
# Closing the browser and Playwright's driver takes about a second; past this they are killed.
CLOSE_SECONDS = 60.0
# How much of a failure's message to show.
MESSAGE_LINES = 12

CHROMIUM_HELP = (
    "The browser tests (tests/e2e) need Chromium and found none: not $COURSE_CHROMIUM, nor "
    "chromium, chromium-browser, google-chrome or google-chrome-stable on PATH. Install it "
    "(on Debian or Ubuntu, as root: `apt-get update && apt-get install -y chromium`; "
    ".ci/run does this), or point COURSE_CHROMIUM at a Chromium or Chrome executable."
)
CHROMIUM_ARGS = [
    # No GPU is needed to render, and Chromium's own background connections (updates,
    # sync, field trials) would only fail on a machine without outside network.
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # No outside network: every host name but the loopback address fails to resolve.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]


class BrowserMissing(AssertionError):
    """No Chromium to drive: the test fails (never skips) and says how to install one."""


def find_chromium() -> str:
    """The Chromium executable to drive: $COURSE_CHROMIUM, else the first on PATH."""
    wanted = os.environ.get("COURSE_CHROMIUM")
    if wanted:
        if shutil.which(wanted) is None:
            raise BrowserMissing(f"COURSE_CHROMIUM={wanted!r} is not an executable. " + CHROMIUM_HELP)
        return str(shutil.which(wanted))
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    raise BrowserMissing(CHROMIUM_HELP)


# --- the course and its copy ----------------------------------------------------------------


def config_assignments() -> list[str]:
    """ASSIGNMENTS from nbgrader_config.py, read as nbgrader reads the file (executed, with
    a get_config() that collects the settings), so the list is never copied into a test."""
    from traitlets.config import Config

    return list(runpy.run_path(str(ROOT / "nbgrader_config.py"), init_globals={"get_config": Config})["ASSIGNMENTS"])


def tracked_files() -> list[Path]:
    """The checkout's tracked files (git ls-files; without git, everything but ignored folders)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60).stdout
        return [ROOT / name for name in out.decode().split("\0") if name]
    except (OSError, subprocess.SubprocessError):
        skip = {".git", ".venv", ".cache", "screenshots", "__pycache__", ".pytest_cache", ".mypy_cache"}
        return [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]


def fingerprint(paths: list[Path]) -> dict[str, str]:
    """Path -> SHA-256 of its content ('missing' when it is gone)."""
    result = {}
    for path in paths:
        try:
            result[str(path.relative_to(ROOT))] = hashlib.sha256(path.read_bytes()).hexdigest()
        except FileNotFoundError:
            result[str(path.relative_to(ROOT))] = "missing"
    return result


def copy_course(destination: Path) -> Path:
    """A copy of the course as a student or instructor gets it: the config, run.py and what
    it installs from, source/ and release/ (without modules that running a notebook wrote,
    checkpoints or caches). Its .venv is a link to the checkout's, so that run.py finds
    its environment ready."""
    destination.mkdir(parents=True)
    for name in ("nbgrader_config.py", "run.py", "requirements.txt", "requirements-kernel.txt", "pyproject.toml"):
        shutil.copy2(ROOT / name, destination / name)
    ignore = shutil.ignore_patterns("*.py", ".ipynb_checkpoints", "__pycache__")
    for name in ("source", "release"):
        shutil.copytree(ROOT / name, destination / name, ignore=ignore)
    (destination / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    return destination


def completed_notebook(assignment: str) -> nbformat.NotebookNode:
    """The release notebook with every answer cell filled in from the source notebook's
    solution (without the BEGIN/END SOLUTION marker lines): a student's finished work."""
    solutions = {
        support.nbgrader_meta(cell)["grade_id"]: cell.source
        for cell in support.read(support.source_notebook(assignment)).cells
        if support.nbgrader_meta(cell).get("solution")
    }
    nb = support.read(support.release_notebook(assignment))
    for cell in nb.cells:
        meta = support.nbgrader_meta(cell)
        if meta.get("solution"):
            lines = solutions[meta["grade_id"]].splitlines()
            cell.source = "\n".join(line for line in lines
                                    if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
    return nb


def check_environment_ready() -> None:
    """run.py in the copy must find .venv ready, or it would reinstall it under the tests."""
    spec = importlib.util.spec_from_file_location("course_run", ROOT / "run.py")
    assert spec is not None and spec.loader is not None
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    stamp = run.STAMP.read_text().strip() if run.STAMP.exists() else ""
    if stamp != run.requirements_digest():
        raise AssertionError(
            ".venv was not installed from this requirements.txt: run the tests with "
            "`python3 run.py test`, which brings .venv up to date first"
        )


# --- JupyterLab -------------------------------------------------------------------------------


@dataclasses.dataclass
class LabServer:
    """JupyterLab on a course folder, started with that folder's `run.py lab`."""

    course: Path
    home: Path  # this server's Jupyter config and data folders
    runtime: Path  # its runtime folder: its server file, kernels' connection files and sockets
    process: subprocess.Popen
    log_path: Path
    url: str = ""
    token: str = ""
    pid: int = 0

    @classmethod
    def start(cls, course: Path, home: Path) -> LabServer:
        token = secrets.token_hex(24)
        env = dict(os.environ)
        for name in ("JUPYTER_TOKEN", "JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "JPY_SESSION_NAME"):
            env.pop(name, None)
        # A config, data and runtime folder of its own: no user settings or workspaces from
        # this machine, no notebook reopened from an earlier run, and a runtime file to read
        # the port from. The runtime folder has a short path, for the kernels' sockets below.
        runtime = Path(tempfile.mkdtemp(prefix="lab-runtime-"))
        env.update(
            JUPYTER_CONFIG_DIR=str(home / "config"),
            JUPYTER_DATA_DIR=str(home / "data"),
            JUPYTER_RUNTIME_DIR=str(runtime),
            IPYTHONDIR=str(home / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
        )
        # No news or update checks: they would reach outside, and their toasts cover buttons.
        settings = home / "config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True)
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        log_path = home / "jupyterlab.log"
        args = [
            sys.executable, "run.py", "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            "--port=0",  # the OS picks a free port; the runtime file says which
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            # If a test run is killed before it stops this server, it stops itself later.
            "--ServerApp.shutdown_no_activity_timeout=1200",
            "--MappingKernelManager.cull_idle_timeout=1200",
            # The notebook's kernel talks over Unix sockets in the runtime folder, not TCP
            # ports: the other tests' kernels pick free ports at the same time, and a kernel
            # given a port another had just taken never answered, so the notebook never got
            # a kernel. (Only the server's own kernels: the grader's kernel manager is not
            # an AsyncIOLoopKernelManager, and it retries a start on fresh ports.)
            "--AsyncIOLoopKernelManager.transport=ipc",
        ]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                args, cwd=course, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = cls(course=course, home=home, runtime=runtime, process=process, log_path=log_path, token=token)
        try:
            server._wait_until_up()
        except BaseException:
            server.stop()
            raise
        return server

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + SERVER_START_S
        runtime = self.runtime
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"JupyterLab exited with status {self.process.returncode} while starting; "
                                     f"log:\n{self.log_tail()}")
            for info_file in runtime.glob("jpserver-*.json"):
                try:
                    info = json.loads(info_file.read_text())
                except (OSError, ValueError):
                    continue  # being written
                if info.get("token") == self.token:
                    self.url = f"http://127.0.0.1:{info['port']}"
                    self.pid = int(info["pid"])
                    if Path(info["root_dir"]).resolve() != self.course.resolve():
                        raise AssertionError(f"JupyterLab serves {info['root_dir']}, not the course copy {self.course}")
                    if self._answers():
                        return
            time.sleep(0.2)
        raise AssertionError(f"JupyterLab did not answer within {SERVER_START_S:.0f} s; log:\n{self.log_tail()}")

    def _answers(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=5) as reply:
                return reply.status == 200
        except OSError:
            return False

    def lab_url(self, path: str = "") -> str:
        return f"{self.url}/lab/tree/{path}?token={self.token}" if path else f"{self.url}/lab?token={self.token}"

    def processes(self) -> list[psutil.Process]:
        """run.py, JupyterLab, its kernels and whatever they started, while they live."""
        try:
            top = psutil.Process(self.process.pid)
            return [top, *top.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def kernel_folders(self) -> list[str]:
        """The working folders of the kernels running now."""
        folders = []
        for proc in self.processes():
            with contextlib.suppress(psutil.Error):
                if "ipykernel_launcher" in " ".join(proc.cmdline()):
                    folders.append(proc.cwd())
        return folders

    def stop(self) -> None:
        """Stop JupyterLab as Ctrl+C would (it shuts its kernels down), then run.py ends."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                if self.pid:
                    os.kill(self.pid, signal.SIGTERM)
                else:  # not up yet: run.py and JupyterLab, which run in a process group of their own
                    os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        shutil.rmtree(self.runtime, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@contextlib.contextmanager
def killed_if_stuck(processes: Callable[[], list[psutil.Process]], seconds: float = CLOSE_SECONDS) -> Iterator[None]:
    """Run the block; if it has not ended after ``seconds``, kill ``processes()`` (the browser
    and Playwright's driver), which ends the calls that wait for them.

    Closing Chromium through Playwright can wait forever when the browser does not answer
    (a known hazard of a browser Playwright did not bundle, as Debian's is), and the calls
    have no timeout of their own. A timer thread, since the sync API cannot be called from
    another thread; what it had to kill is reported as a warning, since the test's checks
    were done by then."""
    killed: list[str] = []

    def kill() -> None:
        for proc in processes():
            with contextlib.suppress(psutil.Error):
                killed.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
                proc.kill()

    timer = threading.Timer(seconds, kill)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        if killed:
            warnings.warn(f"the browser did not close in {seconds:.0f} s; killed: {'; '.join(killed)}", stacklevel=1)


def end_processes(processes: list[psutil.Process], timeout: float = 30.0) -> list[str]:
    """Wait for these processes to end; kill the ones that do not. Returns what was left."""
    alive = []
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
    _, left = psutil.wait_procs(alive, timeout=timeout)
    described = []
    for proc in left:
        with contextlib.suppress(psutil.Error):
            described.append(f"{proc.pid} {' '.join(proc.cmdline())[:160]}")
            proc.kill()
    return described


# --- steps and screenshots ----------------------------------------------------------------------


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


class Steps:
    """Numbered steps of one test, each ending in a screenshot in screenshots/<test>/.

    A step that fails says which it was, where its screenshot is, and the end of the
    JupyterLab log."""

    def __init__(self, name: str, server: LabServer):
        self.folder = SCREENSHOTS / slug(name)
        shutil.rmtree(self.folder, ignore_errors=True)  # screenshots of an earlier run
        self.folder.mkdir(parents=True)
        self.server = server
        self.page = None
        self.count = 0
        self.taken: list[Path] = []
        self.page_errors: list[str] = []  # uncaught JavaScript errors in the page

    def screenshot(self, label: str) -> Path | None:
        path = self.folder / f"{self.count:02d}-{slug(label)}.png"
        if self.page is None:
            return None
        try:
            self.page.screenshot(path=str(path), full_page=False, timeout=30_000)
        except Exception:  # a screenshot must not hide the failure it documents
            return None
        self.taken.append(path)
        return path

    @contextlib.contextmanager
    def __call__(self, label: str) -> Iterator[None]:
        self.count += 1
        try:
            yield
        except Exception as error:
            shot = self.screenshot(f"{label} FAILED")
            where = shot.relative_to(ROOT) if shot else "(no screenshot: the page was gone)"
            # Where in the tests it failed, and the start of the message: Playwright appends
            # a snapshot of the whole page, hundreds of lines that the screenshot shows better.
            frames = [f"  {Path(frame.filename).name}:{frame.lineno}: {frame.line}"
                      for frame in traceback.extract_tb(error.__traceback__)
                      if Path(frame.filename).parent == Path(__file__).parent]
            message = str(error).splitlines()
            short = "\n".join(message[:MESSAGE_LINES]) + (f"\n  ... ({len(message) - MESSAGE_LINES} more lines)"
                                                         if len(message) > MESSAGE_LINES else "")
            raise AssertionError(
                f"step {self.count} ({label}) failed: {type(error).__name__}: {short}\n"
                + "\n".join(frames) + "\n"
                f"screenshot: {where}\n"
                + (f"JavaScript errors in the page: {self.page_errors[-5:]}\n" if self.page_errors else "")
                + f"JupyterLab log ({self.server.log_path}), last lines:\n{self.server.log_tail(15)}"
            ) from None
        self.screenshot(label)


# --- a test's session: copy, server, browser, and the checks when it ends --------------------------


def descendants() -> list[psutil.Process]:
    try:
        return psutil.Process().children(recursive=True)
    except psutil.Error:
        return []


@dataclasses.dataclass
class Lab:
    """One test's JupyterLab and browser page, with the actions the tests take in it."""

    server: LabServer
    page: Page
    step: Steps
    course: Path

    # -- JupyterLab's own controls --

    def menu(self, top: str, item: str) -> None:
        """Click a main-menu entry, as a person does: the top menu, then the item."""
        self.page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile(rf"^{re.escape(top)}$")).click()
        label = self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(item)}$"))
        self.page.locator(".lm-Menu .lm-Menu-item").filter(has=label).click()

    def open_lab(self) -> None:
        self.page.goto(self.server.lab_url())
        expect(self.page.locator("#jp-MainMenu")).to_be_visible(timeout=PAGE_LOAD_MS)
        expect(self.page.locator(".jp-DirListing-item").first).to_be_visible(timeout=PAGE_LOAD_MS)

    def open_notebook(self, relative: str) -> None:
        """Open a notebook of the course copy and wait for its kernel to be ready."""
        self.page.goto(self.server.lab_url(relative))
        expect(self.notebook()).to_be_visible(timeout=PAGE_LOAD_MS)
        expect(self.code_prompts().first).to_be_attached(timeout=PAGE_LOAD_MS)
        self.wait_kernel_idle()

    def notebook(self) -> Locator:
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")

    def code_prompts(self) -> Locator:
        return self.notebook().locator(".jp-CodeCell .jp-InputArea-prompt")

    def wait_kernel_idle(self, timeout: float = PAGE_LOAD_MS) -> None:
        expect(self.page.locator("#jp-main-statusbar")).to_contain_text(re.compile(r"\|\s*Idle"), timeout=timeout)

    def run_all(self) -> None:
        """Run → Run All Cells, then wait until no cell is queued or running."""
        self.menu("Run", "Run All Cells")
        busy = self.code_prompts().filter(has_text="[*]")
        expect(busy.first).to_be_attached(timeout=ACTION_MS)
        expect(busy).to_have_count(0, timeout=RUN_ALL_MS)
        self.wait_kernel_idle(RUN_ALL_MS)

    def prompt_texts(self) -> list[str]:
        return self.code_prompts().evaluate_all("els => els.map(e => e.textContent.trim())")

    def save(self) -> None:
        """File → Save Notebook, then wait until the tab no longer shows unsaved changes."""
        self.menu("File", "Save Notebook")
        expect(self.page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty")).to_have_count(0, timeout=ACTION_MS)

    def code_cell(self, text: str) -> Locator:
        """The code cell whose source contains ``text``."""
        return self.notebook().locator(".jp-CodeCell").filter(has=self.page.locator(".jp-InputArea", has_text=text))

    def run_cell(self, cell: Locator) -> None:
        """Click into a cell and press Shift+Enter, as a student runs one cell."""
        cell.locator(".cm-content").click()
        self.page.keyboard.press("Shift+Enter")


@contextlib.contextmanager
def lab_session(name: str, completed: tuple[str, ...] = ()) -> Iterator[Lab]:
    """A copy of the course (with ``completed`` assignments' release notebooks filled in),
    JupyterLab on it, and a headless Chromium page.

    When it ends, it stops them and checks that no process of theirs is left and that
    no tracked file of the checkout changed; it fails the test if either happened."""
    try:
        chromium = find_chromium()
    except BrowserMissing as missing:
        pytest.fail(str(missing), pytrace=False)  # fail, never skip: CI must install it
    check_environment_ready()
    tracked = tracked_files()
    before = fingerprint(tracked)
    SCRATCH.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix=f"{slug(name)}-", dir=SCRATCH))
    course = copy_course(base / "course")
    for assignment in completed:
        nbformat.write(completed_notebook(assignment), course / "release" / assignment / f"{assignment}.ipynb")
    already = {proc.pid for proc in descendants()}
    server: LabServer | None = None
    playwright = browser = None
    failure: BaseException | None = None
    try:
        server = LabServer.start(course, base / "home")
        steps = Steps(name, server)
        playwright = sync_playwright().start()
        try:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, timeout=ACTION_MS)
        except Exception as error:
            raise BrowserMissing(f"Chromium ({chromium}) did not start: {error}\n{CHROMIUM_HELP}") from error
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.set_default_timeout(ACTION_MS)
        page.on("pageerror", lambda error: steps.page_errors.append(str(error)))
        steps.page = page
        yield Lab(server=server, page=page, step=steps, course=course)
        problems = []
        outside = [folder for folder in server.kernel_folders()
                   if not Path(folder).resolve().is_relative_to(course.resolve())]
        if outside:
            problems.append(f"kernels ran outside the course copy, in {outside}")
    except BaseException as error:
        failure = error
        raise
    finally:
        server_processes = server.processes() if server is not None else []
        watched = [proc for proc in descendants() if proc.pid not in already] + server_processes
        if playwright is not None:
            server_pids = {proc.pid for proc in server_processes}
            with killed_if_stuck(lambda: [proc for proc in descendants()
                                          if proc.pid not in already and proc.pid not in server_pids]):
                if browser is not None:
                    with contextlib.suppress(Exception):
                        browser.close()
                with contextlib.suppress(Exception):
                    playwright.stop()
        if server is not None:
            server.stop()
        left = end_processes(watched + [proc for proc in descendants() if proc.pid not in already])
        after = fingerprint(tracked)
        changed = sorted(path for path in before if before[path] != after[path])
        report = []
        if left:
            report.append("processes were left running (now killed): " + "; ".join(left))
        if changed:
            report.append(f"tracked files of the checkout changed while the test ran: {changed}")
        if failure is None:
            report = problems + report
            shutil.rmtree(base, ignore_errors=True)
        if report:
            message = "\n".join(report) + f"\n(scratch folder kept: {base})"
            if failure is not None:
                failure.add_note(message)
            else:
                raise AssertionError(message)
