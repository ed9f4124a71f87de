"""A kernel that cannot start never costs a submission its grade silently: the grader tries
again on fresh ports, and if the kernel still does not start, the submission scores 0 with
a Grading note that says so (grader.execute.HardenedExecute.start_attempts), also when a
socket of another kind holds its port and takes no message (grader.kernelmanager.SEND_SECONDS).
Nor does a kernel that stops answering: the grader stops waiting for it ``overrun_seconds``
after the notebook's time. And no client of another kernel reaches one: the grader talks to
its kernels over Unix sockets of their own (``HardenedExecute.kernel_transport``)."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
import time
from unittest import mock

import pytest
import zmq
from jupyter_client.client import KernelClient
from jupyter_client.connect import ConnectionFileMixin, LocalPortCache

import support
from grader.execute import HardenedExecute


def honest_course(tmp_path, kernel_name="python3", transport=None, notebook=None):
    """The target assignment (or ``notebook``), its source notebook naming ``kernel_name``,
    submitted as it is (the key: full marks); the grader reaches its kernels over
    ``transport`` if given."""
    notebook = notebook or support.target_notebook()
    notebook.metadata["kernelspec"]["name"] = kernel_name
    course = support.make_course(tmp_path / "course", support.TARGET, notebook)
    if transport is not None:
        course.configure(f"c.HardenedExecute.kernel_transport = {transport!r}")
    course.submit(support.TARGET, "student", notebook)
    return course


def report(course) -> dict:
    return course.autograded(support.TARGET, "student").metadata["course_grading"]


def test_a_port_taken_when_the_kernel_starts_is_retried_on_fresh_ports(kernel_factory, tmp_path):
    course = honest_course(tmp_path, transport="tcp")  # over ipc no port is picked
    kernel = kernel_factory(support.ANSWERS_PYTHONS[0], support.ANSWERS_METHODS[0])
    # Another program holds a port; the first kernel is given it (as when two kernels pick
    # the same free port at once), so that kernel dies before it replies.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        real, handed = LocalPortCache.find_available_port, []

        def taken_first(self, ip):
            handed.append(ip)
            return port if len(handed) == 1 else real(self, ip)

        with mock.patch.object(LocalPortCache, "find_available_port", taken_first):
            log = course.autograde(support.TARGET, kernel)
    assert len(handed) >= 10, f"ports were picked {len(handed)} times; expected a second kernel with fresh ports"
    assert "The kernel did not start (attempt 1 of 3)" in log, f"expected a first failed start in the log:\n{log}"
    scores = course.scores(support.TARGET, "student")
    assert all(score == top for score, top in scores.values()), f"expected full marks after the retry: {scores}"
    assert report(course)["notes"] == [], f"expected no Grading note for a start that succeeded: {report(course)}"


# Without a bound on the grader's sends, this grading waited until pytest's 600 s.
@pytest.mark.timeout(300)
def test_a_shell_port_held_by_another_kernels_socket_is_retried_on_fresh_ports(kernel_factory, tmp_path):
    course = honest_course(tmp_path)
    kernel = kernel_factory(support.ANSWERS_PYTHONS[0], support.ANSWERS_METHODS[0])
    # When two gradings pick the same free port at once, the grader's shell socket can meet
    # another kernel's output socket (zmq PUB) while its own kernel is still starting. The
    # PUB socket refuses it, and the grader's next send waits for a peer that never comes,
    # in the thread that runs the grading. Here the first kernel's client is sent there
    # (its kernel listens on its own port meanwhile, as a kernel slow to fail would).
    context = zmq.Context()
    taken = context.socket(zmq.PUB)
    taken.linger = 0
    try:
        port = taken.bind_to_random_port("tcp://127.0.0.1")
        real, clients = ConnectionFileMixin._make_url, []

        def shell_taken_first(self, channel):
            if channel == "shell" and isinstance(self, KernelClient):
                if not clients:
                    clients.append(self)
                if self is clients[0]:
                    return f"tcp://127.0.0.1:{port}"
            return real(self, channel)

        started = time.monotonic()
        with mock.patch.object(ConnectionFileMixin, "_make_url", shell_taken_first):
            log = course.autograde(support.TARGET, kernel)
        seconds = time.monotonic() - started
    finally:
        taken.close()
        context.term()
    assert "The kernel did not start (attempt 1 of 3)" in log, f"expected a first failed start in the log:\n{log}"
    # Usually a request meets the refused connection and its send waits, until the send's
    # bound (SEND_SECONDS) ends the first start. Once, in a full run of the suite on 2 CPUs, zmq
    # queued every request of the first start instead and none was answered, so the start waited
    # out its own bound (Execute.startup_timeout, 120 s). Either bound ends it.
    assert "took no message" in log or "Kernel didn't respond in 120 seconds" in log, (
        f"expected the log to say the first kernel took no message or gave no answer:\n{log}")
    scores = course.scores(support.TARGET, "student")
    assert all(score == top for score, top in scores.values()), f"expected full marks after the retry: {scores}"
    # At most the start's 120 s bound, the second kernel's start and the notebook; generous
    # for a busy machine, far from the 600 s this waited without a bound.
    assert seconds < 200, f"the grading took {seconds:.0f} s"


class StrayPings(threading.Thread):
    """A heartbeat client of another kernel, as jupyter_client's is: a REQ socket that sends
    b"ping" to a port, and a new socket every 0.3 s while no answer comes."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.done = threading.Event()

    def run(self) -> None:
        context = zmq.Context()
        while not self.done.is_set():
            ping = context.socket(zmq.REQ)
            ping.linger = 0
            ping.connect(f"tcp://127.0.0.1:{self.port}")
            ping.send(b"ping")  # queued until something listens there
            self.done.wait(0.3)
            ping.close()
        context.term()


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_a_client_of_another_kernel_on_its_port(transport, kernel_factory, tmp_path):
    # Two kernels that start at once can be handed the same free port: here the kernel's
    # control port is one where another kernel's heartbeat client pings. Over TCP the kernel
    # logs each stray ping on its stderr ("DELIM not in msg_list"), which goes to the cell
    # running, and a test that passed scores 0, as in a full run of the suite. Over ipc (the
    # grader's default) no port is picked: the kernel's sockets are files of its own.
    notebook = support.target_notebook()
    test_add = support.cell_of(notebook, "test_add")
    test_add.source = "import time\n\ntime.sleep(3)  # as a test that takes its time does\n" + test_add.source
    course = honest_course(tmp_path, transport=transport, notebook=notebook)
    kernel = kernel_factory(support.ANSWERS_PYTHONS[0], support.ANSWERS_METHODS[0])
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    real, handed = LocalPortCache.find_available_port, []

    def control_port_shared(self, ip):
        handed.append(ip)
        return port if len(handed) == 5 else real(self, ip)  # shell, iopub, stdin, hb, control

    pings = StrayPings(port)
    pings.start()
    try:
        with mock.patch.object(LocalPortCache, "find_available_port", control_port_shared):
            course.autograde(support.TARGET, kernel)
    finally:
        pings.done.set()
        pings.join()
    graded = course.autograded(support.TARGET, "student")
    noisy = {support.nbgrader_meta(cell)["grade_id"]: support.stderr_of(cell) for cell in support.test_cells(graded)
             if support.stderr_of(cell)}
    scores = course.scores(support.TARGET, "student")
    if transport == "tcp":
        assert any("DELIM not in msg_list" in text for text in noisy.values()), (
            f"expected the stray pings on the kernel's stderr over TCP: {noisy}")
        assert any(score < top for score, top in scores.values()), f"expected points lost over TCP: {scores}"
    else:
        assert handed == [], f"ports were picked for a kernel reached over ipc: {handed}"
        assert noisy == {}, f"test cells wrote to stderr: {noisy}"
        assert all(score == top for score, top in scores.values()), f"expected full marks: {scores}"


@pytest.mark.parametrize("kernel_name", ["exits-at-start-up", "no-such-kernel"])
def test_a_kernel_that_never_starts_scores_zero_with_a_note(kernel_name, kernel_factory, tmp_path):
    course = honest_course(tmp_path, kernel_name)
    kernel = kernel_factory(support.ANSWERS_PYTHONS[0], support.ANSWERS_METHODS[0])
    # A kernelspec whose kernel exits at once, before it listens on any port; the other
    # name has no kernelspec on this machine.
    spec = tmp_path / "jupyter" / "kernels" / "exits-at-start-up"
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-c", "raise SystemExit(3)", "{connection_file}"],
        "display_name": "Python 3 (exits at start-up)", "language": "python"}))
    env = {**kernel.env(), "JUPYTER_PATH": str(tmp_path / "jupyter")}
    log = course.nbgrader("autograde", support.TARGET, "--force", env=env)  # exits 0: nothing dropped

    assert log.count("The kernel did not start (attempt") == 3, f"expected three attempts in the log:\n{log}"
    scores = course.scores(support.TARGET, "student")
    assert scores and all(score == 0 for score, _ in scores.values()), f"expected 0 on every test: {scores}"
    notes = report(course)["notes"]
    assert any("could not be started" in note for note in notes), f"expected a note that says why: {notes}"
    graded = course.autograded(support.TARGET, "student")
    errors = support.error_outputs(support.test_cells(graded))
    assert errors and all(error.startswith("CellNotRun") for _, error in errors), (
        f"expected every test to say it was not run: {errors}")


def test_a_kernel_that_stops_answering_is_given_up_after_the_notebooks_time(kernel_factory, tmp_path):
    course = honest_course(tmp_path)
    kernel = kernel_factory(support.ANSWERS_PYTHONS[0], support.ANSWERS_METHODS[0])
    # The notebook's time counts from before the kernel's start: on a busy machine the
    # start and the cells before test_add took more than 4 s, so 30 s leaves them room.
    course.configure("c.HardenedExecute.total_seconds = 30\nc.HardenedExecute.overrun_seconds = 2")
    # From test_add on, the kernel never answers and the cell's own timeout never fires: a
    # wait that nothing else bounds (what _run_cell does for the other cells is unchanged).
    real = HardenedExecute._run_cell

    async def stops_answering(self, run, cell, index):
        if support.nbgrader_meta(cell).get("grade_id") == "test_add":
            await asyncio.Event().wait()
        return await real(self, run, cell, index)

    started = time.monotonic()
    with mock.patch.object(HardenedExecute, "_run_cell", stops_answering):
        course.autograde(support.TARGET, kernel)  # exits 0: nothing dropped
    seconds = time.monotonic() - started

    scores = course.scores(support.TARGET, "student")
    assert scores["test_double"] == (2, 2), f"expected the cells before the wait to keep their marks: {scores}"
    assert scores["test_add"][0] == scores["test_square"][0] == 0, f"expected 0 from the wait on: {scores}"
    graded = course.autograded(support.TARGET, "student")
    errors = {support.nbgrader_meta(cell)["grade_id"]: support.error_outputs([cell])
              for cell in support.test_cells(graded)}
    assert all("the grader stopped waiting for the kernel 2 s after the notebook's time (30 s)" in str(errors[test])
               for test in ("test_add", "test_square")), f"expected each to say why it was not run: {errors}"
    flags = report(course)["flags"]
    assert any("stopped waiting" in flag for flag in flags.get("", [])), f"expected the submission flagged: {flags}"
    # 30 + 2 s; generous for a busy machine, far from the test's 600 s.
    assert seconds < 120, f"the grading took {seconds:.0f} s"
