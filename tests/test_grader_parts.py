"""The grader's parts one by one, on small notebooks built here (as nbgrader's own
preprocessor tests build them) and real child processes; no kernel unless a test says so.

grader.guard is tested with its own code, not here.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader.api import Gradebook
from nbgrader.preprocessors import SaveCells

from grader import processes
from grader.review import FlagForReview
from grader.sanitize import RestoreGradedCells
from grader.scan import defined_names, scan_source

ROOT = Path(__file__).resolve().parent.parent
LINUX = sys.platform.startswith("linux")


# --- small notebooks and a gradebook ------------------------------------------------------------


def _cell(kind: str, source: str, grade_id: str, *, grade: bool = False, solution: bool = False,
          locked: bool = False, points: float = 0.0) -> NotebookNode:
    cell = new_code_cell(source) if kind == "code" else new_markdown_cell(source)
    cell.metadata.nbgrader = {"grade_id": grade_id, "grade": grade, "solution": solution, "locked": locked,
                              "task": False, "schema_version": 3}
    if grade:
        cell.metadata.nbgrader["points"] = points
    return cell


def source_notebook() -> NotebookNode:
    """Two answers, their tests (one answer has two), a locked helper and a text cell."""
    return new_notebook(cells=[
        new_markdown_cell("# Exercises"),
        _cell("code", "def check(a, b):\n    assert a == b", "helpers", locked=True),
        _cell("code", "def double(x):\n    raise NotImplementedError()", "double", solution=True),
        _cell("code", "check(double(2), 4)", "test_double", grade=True, locked=True, points=2),
        _cell("code", "check(double(0), 0)", "test_double_zero", grade=True, locked=True, points=1),
        _cell("code", "def add(a, b):\n    raise NotImplementedError()", "add", solution=True),
        _cell("code", "check(add(1, 2), 3)", "test_add", grade=True, locked=True, points=1),
    ])


@pytest.fixture(scope="module")
def gradebook_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gradebook that knows the source notebook, with one student's submission, made once
    (making one runs nbgrader's `alembic`, about 2 s) and copied for each test."""
    path = tmp_path_factory.mktemp("gradebook") / "gradebook.db"
    db = f"sqlite:///{path}"
    with pytest.MonkeyPatch.context() as patch:
        # nbgrader runs `alembic` by name when it creates a gradebook: find this Python's.
        patch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
        with Gradebook(db) as gradebook:
            gradebook.add_assignment("ps1")
    SaveCells().preprocess(source_notebook(),
                           {"nbgrader": {"db_url": db, "assignment": "ps1", "notebook": "exercises"}})
    with Gradebook(db) as gradebook:
        gradebook.add_student("alice")
        gradebook.add_submission("ps1", "alice")
        # As nbgrader's SaveAutoGrades leaves tests that ran: no review needed.
        for grade in gradebook.find_submission_notebook("exercises", "ps1", "alice").grades:
            grade.needs_manual_grade = False
        gradebook.db.commit()
    return path


@pytest.fixture
def resources(gradebook_file: Path, tmp_path: Path) -> dict[str, Any]:
    """nbgrader's resources for alice's submission, with a gradebook of this test's own."""
    path = tmp_path / "gradebook.db"
    shutil.copyfile(gradebook_file, path)
    return {"nbgrader": {"db_url": f"sqlite:///{path}", "assignment": "ps1", "notebook": "exercises",
                         "student": "alice"}}


def _ids(nb: NotebookNode) -> list[str | None]:
    return [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in nb.cells]


def _meta(nb: NotebookNode, grade_id: str) -> dict[str, Any]:
    found = [cell.metadata.nbgrader for cell in nb.cells
             if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    assert len(found) == 1, f"{grade_id} appears {len(found)} times"
    return dict(found[0])


# --- RestoreGradedCells -----------------------------------------------------------------------------


def _shape(nb: NotebookNode) -> list[tuple[str, str, dict[str, Any]]]:
    """Each cell's type, source and nbgrader metadata (``task: False`` is the same as no ``task``)."""
    return [(cell.cell_type, cell.source, {k: v for k, v in cell.metadata.get("nbgrader", {}).items()
                                           if (k, v) != ("task", False)}) for cell in nb.cells]


def test_restore_leaves_an_intact_submission_alone(resources):
    nb = source_notebook()
    before = _shape(nb)
    nb, _ = RestoreGradedCells().preprocess(nb, resources)
    assert _shape(nb) == before


def test_restore_resets_changed_metadata_and_type(resources):
    nb = source_notebook()
    nb.cells[3].metadata.nbgrader.update(grade=False, solution=True, locked=False)  # test_double made an answer
    nb.cells[6].metadata.nbgrader["points"] = 100.0
    nb.cells[4] = _cell("markdown", "check(double(0), 0)", "test_double_zero", grade=True, points=1)
    nb, _ = RestoreGradedCells().preprocess(nb, resources)
    assert _meta(nb, "test_double") == {"grade_id": "test_double", "grade": True, "solution": False, "locked": True,
                                        "points": 2.0, "schema_version": 3}
    assert _meta(nb, "test_add")["points"] == 1.0
    assert nb.cells[4].cell_type == "code" and nb.cells[4].outputs == [] and "execution_count" in nb.cells[4]


def test_restore_keeps_the_last_copy_and_drops_unknown_ids(resources):
    nb = source_notebook()
    copy = _cell("code", "pass  # an early copy", "test_add", grade=True, locked=True, points=1)
    nb.cells.insert(2, copy)
    nb.cells.append(_cell("code", "print('bonus')", "test_bonus", grade=True, locked=True, points=50))
    nb, _ = RestoreGradedCells().preprocess(nb, resources)
    assert "nbgrader" not in nb.cells[2].metadata, "the earlier copy stays an ordinary cell"
    assert "nbgrader" not in nb.cells[-1].metadata, "a cell the gradebook does not know is not graded"
    assert _ids(nb).count("test_add") == 1 and nb.cells[7].metadata.nbgrader["grade_id"] == "test_add"


def test_restore_puts_back_missing_tests_in_place(resources):
    nb = source_notebook()
    del nb.cells[3:5]  # both tests of double
    nb, _ = RestoreGradedCells().preprocess(nb, resources)
    assert _ids(nb) == [None, "helpers", "double", "test_double", "test_double_zero", "add", "test_add"]
    restored = nb.cells[3]
    assert restored.metadata.nbgrader["grade"] and restored.metadata.nbgrader["points"] == 2.0
    assert restored.metadata["editable"] is False and restored.metadata["deletable"] is False
    # The source comes from the gradebook (nbgrader's OverwriteCells would restore it anyway).
    assert restored.source == "check(double(2), 4)"


def test_restore_puts_a_missing_first_helper_before_the_tests(resources):
    nb = source_notebook()
    del nb.cells[1]  # the locked helper, the first cell the gradebook knows
    nb, _ = RestoreGradedCells().preprocess(nb, resources)
    assert "helpers" in _ids(nb), "a locked helper is put back: the tests need it"
    assert _ids(nb).index("helpers") < _ids(nb).index("test_double")


# --- FlagForReview -------------------------------------------------------------------------------------


def _review(resources: dict[str, Any], flags: dict[str, list[str]]) -> tuple[dict[str, bool], dict[str, str | None]]:
    resources = {**resources, "course_grading": {"flags": flags}}
    FlagForReview().preprocess(source_notebook(), resources)
    info = resources["nbgrader"]
    with Gradebook(info["db_url"]) as gradebook:
        notebook = gradebook.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
        review = {grade.name: bool(grade.needs_manual_grade) for grade in notebook.grades}
        comments = {comment.name: comment.auto_comment for comment in notebook.comments}
    return review, comments


def test_review_without_flags_changes_nothing(resources):
    review, comments = _review(resources, {})
    assert not any(review.values()) and not any(comments.values())


def test_review_flags_one_test(resources):
    review, comments = _review(resources, {"test_add": ["it changed builtins"]})
    assert review == {"test_double": False, "test_double_zero": False, "test_add": True}
    assert not any(comments.values()), "a test's flag is no answer's comment"


def test_review_flags_the_tests_of_an_answer_and_comments_on_it(resources):
    review, comments = _review(resources, {"double": ["reaches for get_ipython", "imports ctypes"]})
    assert review == {"test_double": True, "test_double_zero": True, "test_add": False}
    assert comments["double"] == "Flagged for review by the grader: reaches for get_ipython; imports ctypes"
    assert not comments.get("add")


def test_review_flags_every_test_for_the_whole_notebook(resources):
    review, _ = _review(resources, {"": ["the kernel could not be contained"]})
    assert review == {"test_double": True, "test_double_zero": True, "test_add": True}


# --- the static scan (the corpus-wide checks are in test_hardening.py) ----------------------------


@pytest.mark.parametrize("source, expected", [
    ("import os as o\no.fork = lambda: 0", "monkeypatches o.fork"),
    ("from time import sleep\nimport time\ndel time.sleep", "monkeypatches time.sleep"),
    ("import threading as t\nsetattr(t, 'Thread', object)", "changes a module the tests use (t)"),
    ("%%writefile helper.py\nimport ctypes", "imports ctypes"),
    ("get_ipython().events.register('pre_run_cell', print)", "registers an IPython event callback"),
    ("import sys\nsys.excepthook = print", "changes sys.excepthook"),
    ("open('../gradebook.db')", "mentions the grader"),
    ("open('release/ps1/exercises.ipynb')", "names a file of the course"),
    ("x = 1\n\n\ny = open('/proc/1/environ')", "line 4: names a private file of the system"),
])
def test_scan_flags(source, expected):
    assert any(expected in finding for finding in scan_source(source)), scan_source(source)


@pytest.mark.parametrize("source", [
    "!pip list\n%time x = 1\nx = 2",  # shell and line magics are not Python
    "def broken(:\n    pass",  # a syntax error is reported by running the cell, not here
    "import functools\nhook = functools.singledispatch(print).register",  # only events.register is IPython's
    "import os\nhome = os.environ.get('HOME')",
    "class Box: pass\nbox = Box()\nbox.sleep = 1",  # an attribute of the student's own object
])
def test_scan_leaves_alone(source):
    assert scan_source(source) == []


def test_scan_flags_redefined_helpers_and_sorts_by_line():
    source = "import gc\n\ndef check(a, b):\n    return True\nimport ctypes"
    findings = scan_source(source, protected={"check", "other"})
    assert findings[0].startswith("line 1:") and any("defines check again" in f for f in findings)
    lines = [int(finding.split()[1].rstrip(":")) for finding in findings]
    assert lines == sorted(lines)
    assert defined_names(source) == {"check"}
    cell = "%%writefile x.py\na, (b, c) = 1, (2, 3)\nclass K: pass\nn: int = 3"
    assert defined_names(cell) == {"a", "b", "c", "K", "n"}


# --- ProcessSet, end_all, Watchdog ----------------------------------------------------------------------

# Bounds on waiting for processes: generous, because the machine is shared (a loaded CPU
# slows fork and exit); a healthy run takes well under a second.
WAIT = 30.0


def _family(children: int, child: str = "sleep 60") -> subprocess.Popen[bytes]:
    """A shell with ``children`` background children, waiting for them."""
    return subprocess.Popen(["sh", "-c", f"{child} & " * children + "wait"], start_new_session=True)


def _until(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"not within {WAIT:g} s: {what}"
        time.sleep(0.02)


@pytest.fixture
def reap() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(WAIT)


def test_process_set_finds_a_family_and_not_older_children(reap):
    older = _family(1)
    reap.append(older)
    family = _family(3)
    reap.append(family)
    found = processes.ProcessSet(None, lambda: [family.pid])
    _until(lambda: len(found.pids()) == 4, "the shell and its three children")
    assert family.pid in found.pids()
    assert older.pid not in found.pids(), "a child the grader had before is not the notebook's"
    usage = found.usage()
    assert usage.processes == 4 and usage.tasks >= 4 and usage.rss_bytes > 4 * 2**10


def test_process_set_by_user_counts_that_users_processes_and_no_others(reap):
    """A kernel of its own user: every process of that user is the notebook's, wherever it
    moved, and nobody else's is (the table reads only that user's processes)."""
    if os.geteuid() != 0:
        # An ordinary user cannot start processes as another: check the set of this user.
        family = _family(2)
        reap.append(family)
        mine = processes.ProcessSet(os.getuid(), lambda: [])
        _until(lambda: {family.pid, *psutil.Process(family.pid).children()} <= set(mine.pids()), "the family")
        assert 1 not in mine.pids(), "init is not this user's"
        return
    uid = 1_999_999_999  # the grader's own users start at 2,000,000,000
    family = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60 & wait"], user=uid, group=uid, extra_groups=[],
                              start_new_session=True)
    reap.append(family)
    theirs = processes.ProcessSet(uid, lambda: [])
    _until(lambda: len(theirs.pids()) == 3, "the shell and its two children")
    assert set(theirs.pids()) == {family.pid, *(child.pid for child in psutil.Process(family.pid).children())}
    assert theirs.usage().processes == 3
    assert not set(theirs.pids()) & set(processes.ProcessSet(0, lambda: []).pids()), "root's set took theirs"


def test_reap_adopted_collects_ended_children_but_not_those_kept():
    ended = [subprocess.Popen(["true"]) for _ in range(2)]

    def zombie(pid: int) -> bool:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE

    _until(lambda: all(zombie(child.pid) for child in ended), "two children ended, not yet waited for")
    processes.reap_adopted(keep=[ended[0].pid])
    assert zombie(ended[0].pid), "a child someone waits for was collected"
    assert not psutil.pid_exists(ended[1].pid), "an ended child was not collected"
    ended[0].wait(WAIT)


def test_reap_adopted_reads_no_process_table_while_no_child_has_ended():
    """The watchdog asks five times a second; while nothing has ended (nearly always) the
    answer costs one system call, not a read of every process on the machine. In a process
    of its own, whose only child is known."""
    script = textwrap.dedent("""
        import os, signal, subprocess, time
        from grader import processes
        reads = []
        table = processes._table
        processes._table = lambda *args: reads.append(1) or table(*args)
        child = subprocess.Popen(["sleep", "60"])
        processes.reap_adopted()
        print("running:", len(reads))
        os.kill(child.pid, signal.SIGKILL)
        while open(f"/proc/{child.pid}/stat").read().split(")")[-1].split()[0] != "Z":
            time.sleep(0.01)
        processes.reap_adopted()
        print("ended:", len(reads), os.path.exists(f"/proc/{child.pid}"))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=WAIT,
                          check=False)
    assert done.stdout.split("\n")[:2] == ["running: 0", "ended: 1 False"], done.stdout + done.stderr


def test_end_all_ends_the_family_even_when_it_ignores_sigterm(reap, tmp_path):
    stubborn = (f"{sys.executable} -c 'import pathlib, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                f"pathlib.Path(\"{tmp_path}\", str(time.time_ns())).touch(); time.sleep(60)'")
    family = _family(2, stubborn)
    reap.append(family)
    found = processes.ProcessSet(None, lambda: [family.pid])
    _until(lambda: len(list(tmp_path.iterdir())) == 2, "two children ignoring SIGTERM")
    assert len(found.pids()) == 3
    assert processes.end_all(found, grace=0.2) == 3
    family.wait(WAIT)
    assert found.pids() == []


def test_watchdog_watches_without_tripping(reap):
    family = _family(2)
    reap.append(family)
    found = processes.ProcessSet(None, lambda: [family.pid])
    _until(lambda: len(found.pids()) == 3, "the family")
    watchdog = processes.Watchdog(found, max_tasks=50, max_bytes=2**40, keep=lambda: (), interval=0.02)
    watchdog.start()
    _until(lambda: watchdog.peak.processes == 3, "the watchdog's first rounds")
    watchdog.stop()
    assert not watchdog.is_alive() and watchdog.violation is None and family.poll() is None


@pytest.mark.parametrize("limit, reason", [
    ({"max_tasks": 3}, "processes and threads at once; the limit is 3"),
    ({"max_bytes": 2**20}, "MB of memory; the limit is 1 MB"),
], ids=["tasks", "memory"])
def test_watchdog_ends_a_family_over_a_limit(reap, limit, reason):
    family = _family(5)
    reap.append(family)
    found = processes.ProcessSet(None, lambda: [family.pid])
    _until(lambda: len(found.pids()) == 6, "the family")
    watchdog = processes.Watchdog(found, **{"max_tasks": 50, "max_bytes": 2**40, **limit}, keep=lambda: (),
                                  interval=0.02)
    watchdog.start()
    try:
        family.wait(WAIT)
    finally:
        watchdog.stop()
    assert watchdog.violation is not None and reason in watchdog.violation, watchdog.violation
    assert found.pids() == []


def test_watchdog_ends_a_notebook_that_writes_too_much(reap, tmp_path):
    family = _family(1)
    reap.append(family)
    found = processes.ProcessSet(None, lambda: [family.pid])
    (tmp_path / "big").write_bytes(os.urandom(2**20))
    watchdog = processes.Watchdog(found, max_tasks=50, max_bytes=2**40, keep=lambda: (), interval=0.05,
                                  max_disk=2**19, folders=lambda: [str(tmp_path)])
    watchdog.start()
    try:
        family.wait(WAIT)
    finally:
        watchdog.stop()
    assert watchdog.violation is not None and "MB of files" in watchdog.violation
    assert processes.disk_usage([tmp_path]) >= 2**20


def test_the_cell_loop_can_check_the_disk_between_the_watchdogs_rounds(reap, tmp_path):
    """check_disk looks now: a cell that wrote too much in less than the thread's second is
    the cell charged. The thread is not started here, so only check_disk can find it."""
    family = _family(1)
    reap.append(family)
    found = processes.ProcessSet(None, lambda: [family.pid])
    _until(lambda: len(found.pids()) == 2, "the family")
    watchdog = processes.Watchdog(found, max_tasks=50, max_bytes=2**40, keep=lambda: (),
                                  max_disk=2**19, folders=lambda: [str(tmp_path)])
    assert watchdog.check_disk() is None and family.poll() is None
    (tmp_path / "big").write_bytes(os.urandom(2**20))
    reason = watchdog.check_disk()
    assert reason is not None and "MB of files" in reason, reason
    family.wait(WAIT)
    assert found.pids() == []
    assert watchdog.check_disk() == reason, "a second check keeps the first reason"


# --- the user lease -------------------------------------------------------------------------------


@pytest.mark.skipif(not LINUX, reason="user leases are taken on Linux only (the grader is root there)")
def test_user_leases_are_exclusive_and_end_with_their_holder():
    from grader.sandbox import _UserLease

    base = 3_900_000_000 + (os.getpid() % 10_000) * 4  # far from the grader's own range
    first, second = _UserLease(base, span=2), _UserLease(base, span=2)
    try:
        assert {first.uid, second.uid} == {base, base + 1}
        with pytest.raises(RuntimeError, match="no free user id"):
            _UserLease(base, span=2)
        first.release()
        third = _UserLease(base, span=2)
        assert third.uid == first.uid
        third.release()
    finally:
        first.release()
        second.release()
    # A grader that dies holding a lease gives it up: the lock is the kernel's, not a file's.
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from grader.sandbox import _UserLease
        lease = _UserLease({base + 2}, span=1)
        print(lease.uid, flush=True)
        time.sleep(60)
        """)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and int(holder.stdout.readline()) == base + 2
        with pytest.raises(RuntimeError, match="no free user id"):
            _UserLease(base + 2, span=1)
    finally:
        holder.kill()
        holder.wait(WAIT)
    after = _UserLease(base + 2, span=1)
    assert after.uid == base + 2
    after.release()


# --- the sentinel, installed in a fresh Python ------------------------------------------------------


SENTINEL_SCRIPT = """
import collections, gc, sys
from grader_kernel import main, protocol, sentinel

# Compiled before the hook exists: compiling under a library's file name later is refused.
codes = {name: compile(source, FILENAME, "exec") for name, source in SNIPPETS.items()}
sentinel.install(protocol.new_key(), main.trusted_folders({}), [])
results = {}
for name, code in codes.items():
    namespace = {"sys": sys, "gc": gc, "collections": collections}
    try:
        exec(code, namespace)
        results[name] = "blocked" if namespace.get("refused") else "allowed"
    except sentinel.TamperingBlocked:
        results[name] = "blocked"
print(repr(results))
"""


@pytest.mark.parametrize("student", [True, False], ids=["student-code", "library-code"])
def test_sentinel_refuses_introspection_from_untrusted_code_only(student):
    import sysconfig

    library = os.path.join(os.path.realpath(sysconfig.get_path("stdlib")), "fake_module.py")
    snippets = {
        "getframe": "sys._getframe()",
        "gc": "gc.get_objects()",
        # A refused audit hook raises nothing (CPython's rule): it is just not added.
        "audit hook": "calls = []\nsys.addaudithook(lambda *a: calls.append(a))\n"
                      "sys.audit('ping')\nrefused = not calls",
        "settrace": "sys.settrace(lambda *a: None)",
        "fake library file": f"compile('x = 1', {library!r}, 'exec')",
        "library asking": "collections.namedtuple('Point', 'x y')",  # namedtuple calls sys._getframe itself
    }
    filename = "/home/student/notebook.py" if student else library
    script = SENTINEL_SCRIPT.replace("FILENAME", repr(filename)).replace("SNIPPETS", repr(snippets))
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=WAIT)
    assert result.returncode == 0, result.stderr
    results = eval(result.stdout)  # our own repr of a dict of strings
    expected = {"getframe", "gc", "audit hook", "settrace", "fake library file"} if student else set()
    assert {name for name, what in results.items() if what == "blocked"} == expected, results
