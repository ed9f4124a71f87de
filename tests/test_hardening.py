"""The adversarial corpus (tests/attacks/): each attack, graded by plain `nbgrader autograde`
with the course's nbgrader_config.py beside an honest control, is graded within its bound,
scores 0 on the tests it targets (or is flagged for review), leaves no process behind and
changes none of the course's files; the control gets exactly its full marks, unflagged.

Most attacks aim at a small assignment built here ("target": three exercises, a locked
helper cell, hidden tests using course.checks), so that a run grades a handful of students
in seconds; a few aim at a real notebook of the course. Several students share one
`nbgrader autograde` run. Linux only: the containment these tests check needs Landlock and
a child subreaper; on Linux without them the tests fail and say what is missing.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import os
import re
import runpy
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

import support
from support import TARGET, key_answers, leftover_processes, make_course

ATTACKS = Path(__file__).resolve().parent / "attacks"
LINUX = sys.platform.startswith("linux")

# Which attacks share an `nbgrader autograde` run: similar cost, so that runs take about
# the same time and the corpus finishes in a few minutes on 2 CPUs with pytest-xdist.
RUNS = {
    "ipython-hooks": ["input_transformer", "ast_transformer", "showtraceback", "custom_exception_handler",
                      "forged_verdict", "key_hunt_signal_frames"],
    "monkeypatching": ["builtins_monkeypatch", "course_checks_monkeypatch", "sys_modules_swap",
                       "redefined_test_helper", "function_code_swap", "tamper_during_test", "thread_repatcher"],
    "notebook-edits": ["edited_metadata", "deleted_test_cell", "duplicated_test_cell", "changed_kernelspec",
                       "environment_detection", "grader_environ_read"],
    "kernel-deaths": ["sys_exit_on_test_path", "os_exit_on_test_path", "segfault", "kill_the_grader"],
    "runaway-processes": ["fork_bomb", "runaway_pool", "memory_hog", "setsid_daemon", "disk_flood", "disk_burst"],
    "hangs": ["infinite_loop", "sigint_ignoring_loop", "output_flood"],
    "waits": ["deadlocked_join", "queue_join_without_task_done"],
    "course-files": ["read_hidden_tests", "read_gradebook", "write_into_course", "write_other_students",
                     "read_system_secrets"],
    "real-notebook": ["real_notebook_transformer", "real_notebook_kernel_death", "always_equal_result",
                      "real_notebook_hang"],
}


@dataclasses.dataclass(frozen=True)
class Attack:
    name: str
    description: str
    assignment: str
    cells: dict[str, str]
    honest: tuple[str, ...]
    targets: tuple[str, ...]
    keeps: tuple[str, ...]
    bound: float
    expect: str
    edit: Callable[[Any], None] | None
    check: Callable[..., None] | None
    config: str


def load_attack(name: str) -> Attack:
    found = runpy.run_path(str(ATTACKS / f"{name}.py"))
    doc = (found.get("__doc__") or "").strip()
    return Attack(name=name, description=doc.split("\n\n")[0].replace("\n", " "),
                  assignment=found.get("ASSIGNMENT", TARGET), cells=found.get("CELLS", {}),
                  honest=tuple(found.get("HONEST", ())), targets=tuple(found.get("TARGETS", ())),
                  keeps=tuple(found.get("KEEPS", ())), bound=float(found.get("BOUND", 60)),
                  expect=found.get("EXPECT", "zero"), edit=found.get("edit"), check=found.get("check"),
                  config=found.get("CONFIG", ""))


def test_every_attack_is_in_a_run():
    files = {path.stem for path in ATTACKS.glob("*.py")}
    grouped = [name for names in RUNS.values() for name in names]
    assert sorted(grouped) == sorted(set(grouped)), "an attack is listed in two runs"
    assert files == set(grouped), (
        f"attacks not in a run: {sorted(files - set(grouped))}; unknown: {sorted(set(grouped) - files)}"
    )
    assert len(files) >= 25
    for name in files:
        attack = load_attack(name)
        assert attack.description, f"{name}: open the file with a docstring naming the attack"


# --- the pieces that need no kernel -----------------------------------------------------------


def test_scan_flags_no_honest_answer():
    """Honest answers fork, exit children, use signals, threads and %%writefile: none is flagged."""
    from grader.scan import defined_names, scan_source

    flagged = {}
    for assignment in support.assignments():
        nb = support.read(support.source_notebook(assignment))
        helpers = {name for cell in nb.cells if support.nbgrader_meta(cell).get("locked")
                   and not support.nbgrader_meta(cell).get("grade") for name in defined_names(cell.source)}
        for cell in nb.cells:
            if support.nbgrader_meta(cell).get("solution") and scan_source(cell.source, helpers):
                flagged[f"{assignment}/{support.nbgrader_meta(cell)['grade_id']}"] = scan_source(cell.source, helpers)
        for path in sorted((support.ANSWERS / assignment).glob("*/*.py")):
            if scan_source(path.read_text(), helpers):
                flagged[str(path.relative_to(support.ANSWERS))] = scan_source(path.read_text(), helpers)
    assert not flagged, f"the scan flags honest answers: {flagged}"


@pytest.mark.parametrize("name", RUNS["ipython-hooks"] + RUNS["monkeypatching"] + RUNS["course-files"])
def test_scan_flags_tampering_answers(name):
    from grader.scan import scan_source

    attack = load_attack(name)
    helpers = {"expect_equal"}  # what the target's locked cell defines
    assert any(scan_source(source, helpers) for source in attack.cells.values()), f"{name}: the scan saw nothing"


def test_sealed_cells_cannot_be_read_altered_or_forged():
    from grader_kernel import protocol

    key, nonce = protocol.new_key(), protocol.new_nonce()
    message = {"kind": "test", "grade_id": "test_x", "source": "### BEGIN HIDDEN TESTS\nassert 6 * 7 == 42"}
    ciphertext, tag = protocol.seal(key, nonce, message)
    stub = protocol.stub(nonce, ciphertext, tag)
    assert "HIDDEN" not in stub and "6 * 7" not in stub, stub
    assert protocol.open_sealed(key, nonce, ciphertext, tag) == message
    flipped = ciphertext[:10] + ("A" if ciphertext[10] != "A" else "B") + ciphertext[11:]
    assert protocol.open_sealed(key, nonce, flipped, tag) is None, "an altered cell opened"
    assert protocol.open_sealed(protocol.new_key(), nonce, ciphertext, tag) is None, "another key opened it"
    assert protocol.open_sealed(key, protocol.new_nonce(), ciphertext, tag) is None, "it opened under another nonce"
    signature = protocol.sign(key, nonce, '{"outcome": "passed"}')
    assert protocol.verify(key, nonce, '{"outcome": "passed"}', signature)
    assert not protocol.verify(key, nonce, '{"outcome": "failed"}', signature)
    assert not protocol.verify(key, protocol.new_nonce(), '{"outcome": "passed"}', signature), "a verdict replayed"


def test_kernel_environment_does_not_give_the_grader_away():
    """Only NBGRADER_EXECUTION, nbgrader's documented signal (README "Grading safely")."""
    from grader.sandbox import kernel_environment

    grader = {"PATH": "/usr/bin", "LANG": "C.UTF-8", "NBGRADER_EXECUTION": "autograde", "NBGRADER_VALIDATING": "1",
              "PYTEST_CURRENT_TEST": "x", "PYTEST_XDIST_WORKER": "gw0", "GITHUB_TOKEN": "secret", "AWS_SECRET": "s",
              "JUPYTER_PATH": "/j", "LC_ALL": "C", "SSH_AUTH_SOCK": "/tmp/agent", "COURSE_TEST_PYTHONS": "3.11"}
    assert kernel_environment(grader) == {"PATH": "/usr/bin", "LANG": "C.UTF-8", "JUPYTER_PATH": "/j", "LC_ALL": "C",
                                          "NBGRADER_EXECUTION": "autograde"}
    assert kernel_environment(grader, ["AWS_*"]) == {**kernel_environment(grader), "AWS_SECRET": "s"}


# --- the target assignment ------------------------------------------------------------------


def submission(course: support.Course, attack: Attack | None, assignment: str) -> Any:
    """The release notebook with the attack's cells; the control has every key answer."""
    nb = copy.deepcopy(support.read(course.path / "release" / assignment / f"{assignment}.ipynb"))
    key = key_answers(course, assignment)
    for cell in nb.cells:
        grade_id = support.nbgrader_meta(cell).get("grade_id")
        if attack is None or grade_id in attack.honest:
            if grade_id in key:
                cell.source = key[grade_id]
        elif grade_id in attack.cells:
            cell.source = attack.cells[grade_id]
    if attack is not None and attack.edit is not None:
        attack.edit(nb)
    return nb


# --- what must not change -----------------------------------------------------------------------


def tree_digest(*folders: Path) -> dict[str, str]:
    digests = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def gradebook_digest(course: support.Course, assignment: str) -> list[tuple]:
    """The hidden tests and points the gradebook holds (not the grades, which a run writes)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.path / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_notebook(assignment, assignment)
        cells = [(c.name, c.cell_type, c.locked, c.source, c.checksum) for c in notebook.source_cells]
        grades = [(c.name, c.max_score) for c in notebook.grade_cells]
    return sorted(cells) + sorted(grades)


def needs_review(course: support.Course, assignment: str, student: str) -> dict[str, bool]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.path / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(assignment, assignment, student)
        return {grade.name: bool(grade.needs_manual_grade) for grade in notebook.grades}


def require_linux_containment() -> None:
    """The corpus checks containment that only Linux offers: fail, saying what is missing."""
    if not LINUX:
        pytest.skip("the containment these attacks test (Landlock, subreaper, own users) is Linux-only")
    from grader_kernel import landlock, privileges

    missing = []
    abi = landlock.abi_version()
    if abi < 1:
        missing.append("Landlock (Linux 5.13+, enabled in the kernel's LSM list)")
    try:
        privileges.set_child_subreaper(True)
        privileges.set_child_subreaper(False)
    except OSError as error:
        missing.append(f"prctl(PR_SET_CHILD_SUBREAPER): {error}")
    if os.geteuid() != 0 and abi < 6:
        missing.append("either grading as root (each kernel its own user) or Landlock ABI 6 (signal scoping), "
                       f"so that a kernel cannot signal the grader; this kernel offers ABI {abi}")
    assert not missing, "this machine lacks what the hardened grader needs on Linux: " + "; ".join(missing)


# --- the corpus ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("run", list(RUNS))
def test_attacks(run, kernel_factory, tmp_path):
    require_linux_containment()
    grade_attacks(run, RUNS[run], kernel_factory, tmp_path)


# Attacks on containment, graded again by a grader that is not root: then kernels run as the
# grader's own user, and what keeps them in is Landlock (files, and signals to the grader),
# the child subreaper (processes that leave the family) and the per-user task limit.
ORDINARY_USER_RUN = ["setsid_daemon", "fork_bomb", "kill_the_grader", "write_into_course", "read_gradebook",
                     "input_transformer"]


def test_attacks_graded_by_an_ordinary_user(kernel_factory, tmp_path):
    require_linux_containment()
    if os.geteuid() != 0:
        grade_attacks("ordinary-user", ORDINARY_USER_RUN, kernel_factory, tmp_path)
        return
    if not shutil.which("setpriv"):
        pytest.fail("this test becomes an ordinary user with util-linux's setpriv: install util-linux")
    grade_attacks("ordinary-user", ORDINARY_USER_RUN, kernel_factory, tmp_path, as_user=_unused_uid())


def _unused_uid() -> int:
    import pwd

    for uid in range(61000, 62000):
        try:
            pwd.getpwuid(uid)
        except KeyError:
            if not any(p.info["uids"] and p.info["uids"].real == uid for p in psutil.process_iter(["uids"])):
                return uid
    raise AssertionError("no unused user id between 61000 and 62000 for the ordinary-user grader")


def _autograde_as(course: support.Course, assignment: str, kernel: support.KernelSetup, uid: int) -> None:
    """Run `nbgrader autograde` as user ``uid`` with no privilege but reading closed folders:
    this machine's Pythons live under /root (mode 700), which an ordinary user could not
    reach; CAP_DAC_READ_SEARCH lets it read them, and nothing else."""
    home = course.path / "grader-home"
    home.mkdir()
    for path in [course.path, *course.path.rglob("*")]:
        os.lchown(path, uid, uid)
    env = kernel.env()
    env.update(HOME=str(home), PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]))
    env.pop("JUPYTER_RUNTIME_DIR", None)
    command = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=+dac_read_search",
               "--ambient-caps=+dac_read_search", "--", sys.executable, "-m", "nbgrader", "autograde", assignment,
               "--force"]
    # Generous: six attacks and a control, each bounded at 90 s or less by the grader.
    done = subprocess.run(command, cwd=course.path, env=env, capture_output=True, text=True, timeout=900)
    (course.path / "nbgrader.log").write_text(done.stdout + done.stderr)
    assert done.returncode == 0, f"nbgrader autograde as uid {uid} failed:\n{(done.stdout + done.stderr)[-4000:]}"


def grade_attacks(run: str, names: list[str], kernel_factory: Any, tmp_path: Path, as_user: int | None = None) -> None:
    attacks = [load_attack(name) for name in names]
    assignment = attacks[0].assignment
    assert all(a.assignment == assignment for a in attacks), f"run {run} mixes assignments"
    course = make_course(tmp_path / "course", assignment)
    for config in dict.fromkeys(attack.config for attack in attacks if attack.config):  # once each: one course
        course.configure(config)
    for attack in attacks:
        course.submit(assignment, attack.name, submission(course, attack, assignment))
    course.submit(assignment, "control", submission(course, None, assignment))

    protected = tree_digest(course.path / "source", course.path / "release")
    config = (course.path / "nbgrader_config.py").read_bytes()
    hidden = gradebook_digest(course, assignment)
    children_before = {child.pid for child in psutil.Process().children(recursive=True)}
    started = time.monotonic()
    # Like the answer corpus: this Python, and the start method graders get by default.
    kernel = kernel_factory(support.ANSWERS_PYTHONS[0], support.ANSWERS_METHODS[0])
    if as_user is None:
        course.autograde(assignment, kernel)
    else:
        _autograde_as(course, assignment, kernel, as_user)
    total = time.monotonic() - started

    problems = []
    uids = {course.autograded(assignment, student).metadata.get("course_grading", {}).get("kernel_uid")
            for student in [a.name for a in attacks] + ["control"]} - {None}
    if as_user is not None:
        uids.add(as_user)
        if any(course.autograded(assignment, a.name).metadata.get("course_grading", {}).get("kernel_uid")
               for a in attacks):
            raise AssertionError("a kernel ran as a user of its own, though the grader was not root")
    left = leftover_processes(course, uids, children_before)
    if left:
        problems.append(f"processes left running after the run: {left}")
    if tree_digest(course.path / "source", course.path / "release") != protected:
        problems.append("source/ or release/ changed")
    if (course.path / "nbgrader_config.py").read_bytes() != config:
        problems.append("nbgrader_config.py changed")
    if gradebook_digest(course, assignment) != hidden:
        problems.append("the gradebook's tests or points changed")

    control = course.scores(assignment, "control")
    if any(score != possible for score, possible in control.values()):
        problems.append(f"the control lost points: {control}")
    if any(needs_review(course, assignment, "control").values()):
        problems.append("the control was flagged for review")
    graded_control = course.autograded(assignment, "control")
    if graded_control.cells[0].metadata.get("course_grading"):
        problems.append(f"the control got grading notes: {graded_control.cells[0].source[:500]}")

    lines = [f"run {run} ({assignment}): {total:.1f} s for {len(attacks) + 1} students"]
    for attack in attacks:
        scores = course.scores(assignment, attack.name)
        review = needs_review(course, assignment, attack.name)
        graded = course.autograded(assignment, attack.name)
        info = graded.metadata.get("course_grading", {})
        seconds = info.get("seconds", float("nan"))
        earned = sum(score for score, _ in scores.values())
        possible = sum(maximum for _, maximum in scores.values())
        flagged = sorted(name for name, flag in review.items() if flag)
        lines.append(f"  {attack.name}: graded in {seconds:.1f} s (bound {attack.bound:g}), "
                     f"{earned:g}/{possible:g}, flagged: {flagged or 'no'}, restarts: {info.get('restarts', 0)}")
        if not seconds <= attack.bound:
            problems.append(f"{attack.name}: graded in {seconds} s; its bound is {attack.bound:g} s")
        for test in attack.targets:
            score = scores[test][0]
            if score != 0 and not (attack.expect == "zero or flagged" and review.get(test)):
                problems.append(f"{attack.name} ({attack.description}) earned {score:g} on {test}")
        for test in attack.keeps:
            if scores[test][0] != scores[test][1]:
                errors = support.error_outputs(c for c in graded.cells
                                               if support.nbgrader_meta(c).get("grade_id") == test)
                problems.append(f"{attack.name}: {test} should still earn full marks (grading goes on), "
                                f"got {scores[test][0]:g}/{scores[test][1]:g}: {errors}")
        if attack.check is not None:
            try:
                attack.check(course, attack.name, graded)
            except AssertionError as error:
                problems.append(f"{attack.name}: {error}")
    print("\n".join(lines))
    assert not problems, "\n".join(problems)


def test_overhead_benchmark_runs():
    """benchmarks/grading_overhead.py grades the reference notebook plainly and hardened in
    one run and prints the ratio; its numbers are for a person to read on an idle machine."""
    require_linux_containment()
    script = support.ROOT / "benchmarks" / "grading_overhead.py"
    # Generous: two `nbgrader autograde` commands of about 15 s each.
    result = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert re.search(r"overhead of hardening \(hardened / plain\): command [\d.]+x", result.stdout), result.stdout
