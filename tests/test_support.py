"""The test machinery itself, on small synthetic notebooks: the shapes that later notebooks
bring (two-cell exercises, a manually graded answer) are handled without new test code."""

from __future__ import annotations

import contextlib

import nbformat.v4 as v4
import psutil
import pytest

import support


def cell(kind: str, source: str, **nbgrader):
    made = v4.new_code_cell(source) if kind == "code" else v4.new_markdown_cell(source)
    if nbgrader:
        made.metadata["nbgrader"] = {"schema_version": 3, "locked": False, "solution": False, "grade": False,
                                     **nbgrader}
    return made


@pytest.fixture
def notebook():
    """Like 02 and 07: a module cell and a function cell sharing tests, and a manual answer."""
    return v4.new_notebook(cells=[
        cell("code", "%%writefile tally.py\n### BEGIN SOLUTION\n### END SOLUTION", grade_id="add_many", solution=True),
        cell("code", "def parallel_count():\n    ### BEGIN SOLUTION\n    ### END SOLUTION",
             grade_id="parallel_count", solution=True),
        cell("code", "assert True, 'expected'", grade_id="test_parallel_count", grade=True, locked=True, points=3),
        cell("code", "assert True, 'expected'", grade_id="test_parallel_count_lock", grade=True, locked=True, points=1),
        cell("code", "def amdahl_speedup():\n    ### BEGIN SOLUTION\n    ### END SOLUTION",
             grade_id="amdahl_speedup", solution=True),
        cell("code", "assert True, 'expected'", grade_id="test_amdahl_speedup", grade=True, locked=True, points=2),
        cell("markdown", "YOUR ANSWER HERE", grade_id="explain_gil", solution=True, grade=True, points=3),
    ])


def test_exercises_are_answer_cells_with_tests(notebook):
    assert support.exercises(notebook) == {
        "parallel_count": ["test_parallel_count", "test_parallel_count_lock"],
        "amdahl_speedup": ["test_amdahl_speedup"],
    }
    assert [c.metadata.nbgrader["grade_id"] for c in support.test_cells(notebook)] == [
        "test_parallel_count", "test_parallel_count_lock", "test_amdahl_speedup"]


def test_answer_filling_two_cells(tmp_path, notebook):
    folder = tmp_path / "02_communication" / "parallel_count"
    folder.mkdir(parents=True)
    path = folder / "wrong_no_lock.py"
    path.write_text(
        "# %% cell: add_many\n%%writefile tally.py\n# Adds without the lock.\ndef add_many(c, l, t): ...\n"
        "# %% cell: parallel_count\ndef parallel_count():\n    return 0\n"
    )
    answer = support.load_answer(path)
    assert (answer.assignment, answer.exercise, answer.right) == ("02_communication", "parallel_count", False)
    assert answer.description == "Adds without the lock."
    assert answer.cells["add_many"].startswith("%%writefile tally.py\n")
    filled = support.with_answers(notebook, [answer])
    assert filled.cells[1].source == "def parallel_count():\n    return 0"
    assert notebook.cells[1].source.startswith("def parallel_count():\n    ### BEGIN")  # the original is untouched


def test_answer_naming_a_missing_cell_is_an_error(tmp_path, notebook):
    path = tmp_path / "a" / "amdahl_speedup" / "right_x.py"
    path.parent.mkdir(parents=True)
    path.write_text("# %% cell: no_such_cell\n# Right.\nx = 1\n")
    with pytest.raises(ValueError, match="no answer cell 'no_such_cell'"):
        support.with_answers(notebook, [support.load_answer(path)])


def test_answer_file_names_say_right_or_wrong(tmp_path):
    path = tmp_path / "a" / "ex" / "maybe_x.py"
    path.parent.mkdir(parents=True)
    path.write_text("# Unsure.\n")
    with pytest.raises(ValueError, match=r"right_<name>\.py or wrong_<name>\.py"):
        support.load_answer(path)


def test_submissions_take_the_kth_answer_of_each_exercise(tmp_path, monkeypatch):
    monkeypatch.setattr(support.answers, "ANSWERS", tmp_path)  # where load_answers looks
    for exercise, names in {"a": ["wrong_1", "wrong_2", "right_1"], "b": ["wrong_1"]}.items():
        (tmp_path / "x" / exercise).mkdir(parents=True)
        for name in names:
            (tmp_path / "x" / exercise / f"{name}.py").write_text(f"# {exercise} {name}\n")
    grouped = {name: sorted(a.label for a in answers) for name, answers in support.submissions("x").items()}
    assert grouped == {"wrong-1": ["a/wrong_1", "b/wrong_1"], "wrong-2": ["a/wrong_2"], "right-1": ["a/right_1"]}


def test_racy_answers_are_also_grouped_on_their_own(tmp_path, monkeypatch):
    monkeypatch.setattr(support.answers, "ANSWERS", tmp_path)
    (tmp_path / "x" / "a").mkdir(parents=True)
    (tmp_path / "x" / "a" / "wrong_plain.py").write_text("# Plain.\n")
    (tmp_path / "x" / "a" / "wrong_race.py").write_text("# Races.\n# racy: two threads add at once\nx = 1\n")
    (tmp_path / "x" / "a" / "right_race.py").write_text("# Right.\n# racy: finishes in any order\n")
    once = {name: [a.name for a in answers] for name, answers in support.submissions("x").items()}
    racy = {name: [a.name for a in answers] for name, answers in support.submissions("x", racy=True).items()}
    assert once == {"wrong-1": ["wrong_plain"], "wrong-2": ["wrong_race"], "right-1": ["right_race"]}
    assert racy == {"racy-1": ["right_race"], "racy-2": ["wrong_race"]}
    others = {name: [a.name for a in answers] for name, answers in support.submissions("x", racy_wrong=False).items()}
    assert others == {"wrong-1": ["wrong_plain"], "right-1": ["right_race"]}
    answer = support.load_answer(tmp_path / "x" / "a" / "wrong_race.py")
    assert (answer.description, answer.racy) == ("Races.", "two threads add at once")


def test_only_the_answers_an_exercise_needs_are_kept():
    # transfer's tests run the student's own Accounts; first_done uses no other answer.
    assert support.needed_answers("05_locks_and_queues", {"transfer"}) == {"transfer", "account"}
    assert support.needed_answers("06_thread_pools", {"first_done"}) == {"first_done"}
    assert {"add_many", "parallel_count"} <= support.needed_answers("02_communication", {"parallel_count"})
    answer = support.load_answers("06_thread_pools")["first_done"][0]
    nb = support.only_needed_answers(support.student_notebook("06_thread_pools", [answer]), "06_thread_pools", [answer])
    release = {support.nbgrader_meta(c).get("grade_id"): c.source for c in support.read(
        support.release_notebook("06_thread_pools")).cells}
    sources = {support.nbgrader_meta(c).get("grade_id"): c.source for c in nb.cells}
    assert sources["first_done"] == answer.cells["first_done"]
    assert sources["fetch_all"] == release["fetch_all"], "expected an answer first_done does not need left unanswered"


def test_without_demonstrations_keeps_what_nbgrader_knows():
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# T"), v4.new_code_cell("demo()"),
                                v4.new_code_cell("answer", metadata={"nbgrader": {"solution": True}}),
                                v4.new_code_cell("test", metadata={"nbgrader": {"grade": True, "locked": True}})])
    kept = support.without_demonstrations(nb)
    assert [c.source for c in kept.cells] == ["# T", "answer", "test"]
    assert len(nb.cells) == 4, "expected the notebook given to be left as it was"


def test_order_and_choice_keep_the_cpus_busy_from_records_or_estimates(tmp_path):
    det = "tests/test_determinism.py::test_racy_answers_graded_the_same_every_time"
    compat = "tests/test_nbgrader_compat.py::test_nbgrader_autograde_tests_pass_with_the_course_grader"
    browser = "tests/e2e/test_lab.py::test_b"
    ids = ["tests/test_package.py::test_a", "tests/test_answers.py::test_x[1]", compat, f"{det}[a]", f"{det}[b]",
           browser]
    # Estimates: compat 285 s (0.7 of it computing), determinism 66 s each (0.16, waiting),
    # answers 9.5 s (0.25), package 1 s (0.5); a browser test 1 s, but last.
    pending = support.schedule.order(ids, {})
    assert pending == [compat, f"{det}[a]", f"{det}[b]", ids[1], ids[0], browser]
    choose = support.schedule.choose
    assert choose(pending, [], {}, cpus=2) == 0, "expected the longest computing test on idle CPUs"
    assert pending[choose(pending[1:], [compat], {}, cpus=1) + 1] == ids[1], (
        "expected answers (0.25) to fit beside compat (0.7) on one CPU")
    assert pending[choose(pending[1:], [compat, compat], {}, cpus=1) + 1] == f"{det}[a]", (
        "expected the longest waiting test where no computing test fits")
    assert choose([browser, ids[0]], [compat, compat, compat], {}, cpus=2) == 1, "expected the browser tests last"
    assert choose([browser], [compat], {}, cpus=2) == 0
    records = tmp_path / "durations.json"
    support.schedule.save({ids[0]: (500.0, 20.0), ids[1]: (30.0, 12.0)}, records)
    support.schedule.save({compat: (200.0, 140.0)}, records)  # merged with what was recorded
    known = support.schedule.load(records)
    assert known == {ids[0]: (500.0, 20.0), ids[1]: (30.0, 12.0), compat: (200.0, 140.0)}
    # test_a now waits (0.04 of its 500 s computing) and is the longest.
    assert support.schedule.order(ids, known)[:2] == [ids[0], compat]
    records.write_text('{"tests/test_package.py::test_a": 7.5}')  # recorded before CPU time was
    assert support.schedule.load(records) == {ids[0]: (7.5, None)}
    records.write_text("{not json")
    assert support.schedule.load(records) == {}, "expected a damaged record to be ignored"
    assert support.schedule.order([], {}) == []


def test_scheduler_hands_each_worker_what_fits_beside_the_others():
    """CpuAwareScheduling's own step, on xdist's data: collection indices pending and per worker."""
    compat = "tests/test_nbgrader_compat.py::test_nbgrader_autograde_tests_pass_with_the_course_grader"
    det = "tests/test_determinism.py::test_racy_answers_graded_the_same_every_time"
    package = "tests/test_package.py::test_a"
    # Recorded (seconds, CPU seconds): compat computes 0.7 of its time, the two others of
    # det mostly wait, test_a computes half.
    known = {compat: (285.0, 200.0), f"{det}[a]": (66.0, 10.0), f"{det}[b]": (60.0, 9.0), package: (1.0, 0.5)}
    collection = support.schedule.order([compat, f"{det}[a]", f"{det}[b]", package], known)

    class Worker:
        def __init__(self):
            self.sent = []

        def send_runtest_some(self, indices):
            self.sent += indices

    scheduler = object.__new__(support.schedule.CpuAwareScheduling)
    one, two = Worker(), Worker()
    scheduler.collection, scheduler.known, scheduler.cpus = collection, known, 1
    scheduler.pending, scheduler.node2pending = list(range(len(collection))), {one: [], two: []}
    scheduler._send_tests(one, 1)
    scheduler._send_tests(two, 1)
    scheduler._send_tests(one, 1)
    # One CPU. Worker one: compat (0.7 of a CPU). Worker two: test_a (0.5) does not fit
    # beside compat, so the longest waiting test. Worker one next: test_a fits beside it.
    assert [collection[i] for i in one.sent] == [compat, package]
    assert [collection[i] for i in two.sent] == [f"{det}[a]"]
    assert scheduler.node2pending == {one: one.sent, two: two.sent} and scheduler.pending == [2]


def test_execution_seconds_spans_first_start_to_last_reply():
    nb = v4.new_notebook(cells=[v4.new_code_cell("1"), v4.new_code_cell("2")])
    nb.cells[0].metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00.000Z",
                                         "shell.execute_reply": "2026-01-01T00:00:01.000Z"}
    nb.cells[1].metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:01.500Z",
                                         "shell.execute_reply": "2026-01-01T00:00:04.250Z"}
    assert support.execution_seconds(nb) == 4.25
    with pytest.raises(AssertionError, match="no timing metadata"):
        support.execution_seconds(v4.new_notebook(cells=[v4.new_code_cell("1")]))


def test_assert_messages_must_say_what_was_expected():
    assert support.assert_messages("assert x == 1") == ["line 1: assert without a message"]
    assert support.assert_messages("assert x == 1, 'bad'") == ["line 1: the message does not say what was expected"]
    assert support.assert_messages("assert x == 1, f'got {x}; expected 1'") == []
    assert support.assert_messages("raise AssertionError()") == ["line 1: AssertionError without a message"]
    assert support.assert_messages("raise AssertionError(f'{x}; expected 2')") == []


def test_gradings_at_once_that_outlast_their_bound_say_where_they_are(kernel_factory, tmp_path, monkeypatch):
    # The target's "hang" student: square sleeps an hour, and test_square waits for it up to
    # the cell's 60 s. After 10 s the grading is past nbgrader's own set-up (a second or two,
    # more on a crowded machine) and in the notebook's run, which the report must show; it
    # must then end the grading and its kernel.
    monkeypatch.setattr(support.courses, "GRADING_BOUND", 10.0)
    course = support.make_course(tmp_path / "slow", support.TARGET)
    support.submit_class(course, support.TARGET, {"hang": support.TARGET_CLASS["hang"]})
    with pytest.raises(AssertionError) as raised:
        kernel = kernel_factory(support.ANSWERS_PYTHONS[0], support.ANSWERS_METHODS[0])
        support.autograde_at_once([course], support.TARGET, kernel)
    first, _, rest = str(raised.value).partition("\n")
    assert first.startswith("1 grading(s) still running after 10 s (slow); the first is in "), first
    assert "(no stack)" not in first, first
    assert "grading process" in rest and "thread 0x" in rest.lower(), rest[:2000]
    assert "its event loop's tasks" in rest and "_execute_notebook" in rest, rest[-3000:]
    assert not (tmp_path / "slow" / "autograded" / "hang" / support.TARGET / f"{support.TARGET}.ipynb").exists()
    kernels = []
    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            command = " ".join(process.cmdline())
            if "kernel" in command:
                kernels.append(f"{process.pid} ({process.status()}, parent {process.ppid()}): {command[:200]}")
    assert not kernels, "the stuck grading's kernels are still running:\n" + "\n".join(kernels)
