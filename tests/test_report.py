"""The class report (grader.report, `python3 run.py report`): its numbers agree with the
gradebook (pass rates, scores, flags), failure messages are grouped with their numbers taken
out, the submissions that need a look are listed with the reason from their Grading notes,
the CSV files hold the same numbers, the page opens offline, and bad input is refused with
one line and status 2, having written nothing.

Most tests need no kernel: support.graded_class writes a gradebook through nbgrader's API
and graded notebooks as the course's grader leaves them. One test grades a small class of
support's "target" assignment with the real grader, in one run, and checks the report
against that gradebook.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html.parser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import support
from grader import report
from grader.report_data import ClassData, group_failures, pattern_of
from grader.summary import grades_of
from support.graded_class import (
    ASSIGNMENT,
    CAP_VALUE,
    FLAG_REASON,
    TESTS,
    Graded,
    course_id,
    make_class,
    typical,
)

# One student of each kind, two wrong answers whose messages differ only in their numbers,
# a student whose graded notebook is missing, and one who handed nothing in.
CLASS = [typical("honest", "ann"), typical("wrong_order", "bob", 1), typical("wrong_order", "cat", 4),
         typical("wrong_status", "dan", 2), typical("blank", "eve"), typical("flagged", "fay"),
         typical("hang", "gus"), typical("cap", "hal"), typical("stderr", "ida"), typical("no_notebook", "jon")]
ABSENT = "kim"


class Tables(html.parser.HTMLParser):
    """The text of every table of an HTML page, by id (and by ``data-test`` for failure tables), and its images."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: dict[str, str] = {}
        self.links: list[str] = []
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(found.get("id") or f"failures:{found.get('data-test')}", [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "img":
            self.images[found.get("id") or ""] = found.get("src") or ""
        elif tag in ("link", "script") and (found.get("href") or found.get("src")):
            self.links.append(found.get("href") or found.get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table:
            self._table[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(page: Path) -> Tables:
    tables = Tables()
    tables.feed(page.read_text(encoding="utf-8"))
    return tables


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_report(course: Path, args: list[str], monkeypatch: pytest.MonkeyPatch,
               capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    monkeypatch.chdir(course)
    status = report.main(args)
    said = capsys.readouterr()
    return status, said.out, said.err


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The class, graded (without a kernel), in a course folder made once for this module."""
    return make_class(tmp_path_factory.mktemp("report") / "course", CLASS, without_submission=[ABSENT])


@pytest.fixture(scope="module")
def made(graded_class: Path) -> tuple[ClassData, dict[str, Path]]:
    """The report of the class, and the files it wrote (page, students, tests, failures)."""
    before = digests(graded_class)
    data, written = report.class_report(ASSIGNMENT, course=graded_class)
    after = digests(graded_class)
    assert {k: v for k, v in after.items() if not k.startswith("reports/")} == before, \
        "the report changed the gradebook or a graded notebook"
    return data, {"page": written[0], **{path.name.split(".")[1]: path for path in written[1:]}}


def gradebook_url(course: Path) -> str:
    return f"sqlite:///{course / 'gradebook.db'}"


def test_pass_rates_match_the_gradebook_lowest_first(graded_class, made):
    data, files = made
    grades = grades_of(gradebook_url(graded_class), ASSIGNMENT)
    wanted = {}
    for test, points in TESTS.items():
        scores = [cells[f"{ASSIGNMENT}/{test}"].auto_score for cells in grades.values()]
        wanted[test] = (sum(score == points for score in scores), len(scores))
    assert {t.key: (t.passed, t.graded) for t in data.tests} == wanted
    # And as the class was made: who fails each test.
    for t in data.tests:
        failing = {s.name for s in CLASS if not s.passes(t.key)}
        assert t.failed == len(failing), (t.key, failing)
    rates = [t.pass_rate for t in data.tests]
    assert rates == sorted(rates), f"tests are not listed lowest pass rate first: {rates}"
    assert data.tests[0].key == "test_run_all" and data.tests[0].passed == 6 and data.tests[0].graded == 10

    rows = read_csv(files["tests"])
    assert [(r["test"], int(r["passed"]), int(r["graded"])) for r in rows] == \
        [(t.key, *wanted[t.key]) for t in data.tests]
    assert all(abs(float(r["pass_rate"]) - wanted[r["test"]][0] / wanted[r["test"]][1]) < 1e-4 for r in rows)

    table = parse(files["page"]).tables["tests-table"]
    assert [row[0] for row in table[1:]] == [t.key for t in data.tests]
    assert [row[3] for row in table[1:]] == [f"{wanted[t.key][0]} / {wanted[t.key][1]}" for t in data.tests]


def test_scores_and_exercises_match_the_gradebook(graded_class, made):
    from nbgrader.api import Gradebook

    data, files = made
    with Gradebook(gradebook_url(graded_class)) as gradebook:
        totals = {s.student.id: s.score for s in gradebook.find_assignment(ASSIGNMENT).submissions}
        students = {s.id for s in gradebook.students}
    assert {s.student: s.score for s in data.submissions} == pytest.approx(totals)
    assert set(totals) | {ABSENT} == students and data.not_submitted == (ABSENT,)
    assert [e.name for e in data.exercises] == ["usable_cpus", "fork_exit_status", "run_all", "explain"]
    assert [e.cells for e in data.exercises][1] == ("test_fork_exit_status", "test_fork_exit_status_checks")
    assert data.exercises[-1].manual and not any(e.manual for e in data.exercises[:-1])
    by_student = {s.student: s for s in data.submissions}
    assert by_student["bob"].exercise_scores == {"usable_cpus": 2, "fork_exit_status": 2, "run_all": 1,
                                                 "explain": 1}
    assert by_student["eve"].exercise_scores == dict.fromkeys(("usable_cpus", "fork_exit_status", "run_all",
                                                               "explain"), 0)
    rows = {r["student"]: r for r in read_csv(files["students"])}
    assert set(rows) == set(totals)
    for student, total in totals.items():
        assert float(rows[student]["score"]) == pytest.approx(total)
        assert sum(float(rows[student][e.name]) for e in data.exercises) == pytest.approx(total)
    students_table = parse(files["page"]).tables["students-table"]
    assert [row[0] for row in students_table[1:]] == sorted(totals)


def test_failure_messages_are_grouped_with_numbers_taken_out(made):
    data, files = made
    tests = {t.key: t for t in data.tests}
    run_all = {g.pattern: g for g in tests["test_run_all"].groups}
    wrong = run_all["AssertionError: run_all(exit_with, [(N,), (N,)]) returned [N, N]; expected [N, N]"]
    assert wrong.students == ("bob", "cat") and wrong.count == 2
    assert run_all["NotImplementedError: not answered yet"].students == ("eve",)
    assert run_all[f"GradingLimitExceeded: {pattern_of(CAP_VALUE)}"].students == ("hal",)
    assert next(iter(run_all)) == wrong.pattern, "the most common message is not first"
    assert tests["test_run_all_concurrency"].groups[-1].pattern.startswith("wrote to stderr")
    assert "ValueError: child failed" in tests["test_run_all_concurrency"].groups[-1].pattern
    # Every failure is in exactly one group, with the student who got it.
    for t in data.tests:
        assert sum(g.count for g in t.groups) == t.failed
        members = [s for g in t.groups for s in g.students]
        assert sorted(members) == sorted({s.name for s in CLASS if not s.passes(t.key)})
    rows = read_csv(files["failures"])
    assert {(r["test"], r["message"], int(r["count"]), r["students"]) for r in rows} == {
        (t.key, g.pattern, g.count, " ".join(g.students)) for t in data.tests for g in t.groups}
    page = parse(files["page"]).tables["failures:test_run_all"]
    assert page[1][1:] == ["2", "bob, cat"] and page[1][0].startswith(wrong.pattern)


def test_grouping_rule():
    assert pattern_of("returned 3; expected 5") == pattern_of("returned 4; expected 5") == "returned N; expected N"
    assert pattern_of("took 10.5 s at 0x7f3a2b; 1e-3") == "took N s at 0xN; N"
    groups = group_failures([("b", "x returned 3"), ("a", "x returned 4"), ("c", "NameError: y"),
                             ("d", "x returned 7")])
    assert [(g.pattern, g.students, g.example) for g in groups] == [
        ("x returned N", ("a", "b", "d"), "x returned 4"), ("NameError: y", ("c",), "NameError: y")]


def test_submissions_that_need_a_look(made):
    data, files = made
    by_student = {s.student: s for s in data.submissions}
    assert [s.student for s in data.submissions if s.flagged] == ["fay"]
    assert by_student["fay"].reason == FLAG_REASON
    assert by_student["gus"].restarts == 1 and by_student["gus"].hangs == 1 and not by_student["gus"].caps
    assert by_student["hal"].caps == ("processes",) and by_student["hal"].restarts == 1
    assert by_student["jon"].problems and "no readable graded notebook" in by_student["jon"].problems[0]
    for name in ("ann", "bob", "dan", "eve", "ida"):
        assert by_student[name].attention() == [], (name, by_student[name].attention())
    assert {s.student: s.seconds for s in data.submissions} == {s.name: (s.seconds if s.graded_notebook else None)
                                                               for s in CLASS}
    table = parse(files["page"]).tables["attention-table"]
    assert [row[0] for row in table[1:]] == ["fay", "gus", "hal", "jon"], "flagged first, then by name"
    assert f"flagged: {FLAG_REASON}" in table[1][2]
    assert "1 kernel restart(s)" in table[2][2] and "stopped at their time limit" in table[2][2]
    assert "caps hit: processes" in table[3][2]
    rows = {r["student"]: r for r in read_csv(files["students"])}
    assert rows["fay"]["flagged"] == "yes" and rows["fay"]["reason"] == FLAG_REASON
    assert (rows["gus"]["restarts"], rows["gus"]["hangs"], rows["hal"]["caps_hit"]) == ("1", "1", "processes")
    assert rows["gus"]["grading_seconds"] == "41" and rows["jon"]["grading_seconds"] == ""
    assert data.summary()["flagged"] == 1 and data.summary()["need_a_look"] == 4


def test_a_test_flagged_in_the_gradebook_only_counts_as_flagged(tmp_path):
    """A graded notebook without the grader's flags, whose tests the gradebook marks for review."""
    from nbgrader.api import Gradebook

    course = make_class(tmp_path / "course", [Graded("ann"), Graded("bob")])
    with Gradebook(gradebook_url(course)) as gradebook:
        gradebook.find_grade("test_run_all", ASSIGNMENT, ASSIGNMENT, "bob").needs_manual_grade = True
        gradebook.db.commit()
    data, _ = report.class_report(ASSIGNMENT, course=course)
    assert [(s.student, s.reason) for s in data.submissions if s.flagged] == [
        ("bob", "the gradebook marks a test as needing a manual grade")]


def test_the_page_opens_offline(made):
    _, files = made
    page = files["page"].read_text(encoding="utf-8")
    tables = parse(files["page"])
    assert set(tables.images) == {"figure-scores", "figure-exercises", "figure-pass-rates"}
    for name, source in tables.images.items():
        assert source.startswith("data:image/png;base64,"), f"{name} is not embedded"
        png = base64.b64decode(source.split(",", 1)[1])
        assert png.startswith(b"\x89PNG") and len(png) > 2000, f"{name} is not a PNG with something drawn"
    assert tables.links == [], f"the page loads files from elsewhere: {tables.links}"
    assert "http://" not in page and "https://" not in page
    assert f'href="{ASSIGNMENT}.students.csv"' in page and f'href="{ASSIGNMENT}.failures.csv"' in page


def test_another_gradebook_url(tmp_path, monkeypatch, capsys):
    """--db: a gradebook elsewhere than the course's, given as a database URL."""
    elsewhere = tmp_path / "db" / "grades.sqlite"
    elsewhere.parent.mkdir()
    url = f"sqlite:///{elsewhere}"
    course = make_class(tmp_path / "course", [typical("honest", "ann"), typical("blank", "eve")], db_url=url)
    assert not (course / "gradebook.db").exists()
    status, out, err = run_report(course, [ASSIGNMENT, "--db", url], monkeypatch, capsys)
    assert status == 0, err
    assert "2 submission(s)" in out and f"reports/{ASSIGNMENT}.html" in out
    rows = read_csv(course / "reports" / f"{ASSIGNMENT}.tests.csv")
    assert {(r["test"], r["passed"], r["graded"]) for r in rows} == {(t, "1", "2") for t in TESTS}
    assert not (course / "gradebook.db").exists(), "the report made a gradebook of its own"


def refused(course: Path, args: list[str], monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> str:
    before = digests(course)
    status, out, err = run_report(course, args, monkeypatch, capsys)
    assert status == 2, (status, out, err)
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert digests(course) == before, "refusing bad input changed the course or wrote a report"
    return err


def test_bad_input_is_refused_with_one_line(graded_class, tmp_path, monkeypatch, capsys):
    course = tmp_path / "course"
    shutil.copytree(graded_class, course, ignore=shutil.ignore_patterns("reports"))
    assert "unknown assignment 'nope': the assignments in source/ are lesson" in refused(
        course, ["nope"], monkeypatch, capsys)
    assert "the following arguments are required: assignment" in refused(course, [], monkeypatch, capsys)
    assert "unrecognized arguments: --jobs" in refused(course, [ASSIGNMENT, "--jobs", "2"], monkeypatch, capsys)

    # An assignment of the course that the gradebook does not know, and one it knows with no submission.
    second = course / "source" / "second" / "second.ipynb"
    second.parent.mkdir()
    shutil.copy(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", second)
    assert "nothing is graded yet: the gradebook has no assignment 'second'" in refused(
        course, ["second"], monkeypatch, capsys)
    from nbgrader.api import Gradebook

    with Gradebook(gradebook_url(course), course_id()) as gradebook:
        gradebook.add_assignment("second")
    assert "nothing is graded yet for second: the gradebook has no submission of it" in refused(
        course, ["second"], monkeypatch, capsys)

    missing = f"sqlite:///{tmp_path / 'nowhere.db'}"
    said = refused(course, [ASSIGNMENT, "--db", missing], monkeypatch, capsys)
    assert "there is no gradebook at" in said and "nowhere.db: nothing is graded yet" in said
    assert not (tmp_path / "nowhere.db").exists()
    (course / "gradebook.db").unlink()
    assert "there is no gradebook at gradebook.db: nothing is graded yet (grade the class first: python3 run.py " \
           "autograde lesson)" in refused(course, [ASSIGNMENT], monkeypatch, capsys)
    assert "cannot open the gradebook nosuchdriver://u:***@h/db: no database driver" in refused(
        course, [ASSIGNMENT, "--db", "nosuchdriver://u:secret@h/db"], monkeypatch, capsys)
    assert "secret" not in refused(course, [ASSIGNMENT, "--db", "nosuchdriver://u:secret@h/db"], monkeypatch, capsys)
    assert "has no nbgrader_config.py" in refused(tmp_path, [ASSIGNMENT], monkeypatch, capsys)


def test_run_py_report_refuses_an_unknown_assignment():
    """Through run.py, as an instructor types it: status 2 and one line, no traceback."""
    done = subprocess.run([sys.executable, str(support.ROOT / "run.py"), "report", "no_such_assignment"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done
    assert done.stderr.startswith("error: unknown assignment 'no_such_assignment': the assignments in source/ are "
                                  + ", ".join(support.assignments())), done.stderr
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr


# --- one class graded by the real grader ----------------------------------------------------------------------

REAL_CLASS: dict[str, dict[str, str] | None] = {
    "blank": None,  # the release notebook, untouched
    "flagged": {"double": 'def double(x):\n    """Return twice x."""\n    shell = get_ipython()\n    return 2 * x'},
    "honest": {},
    "wrong": {"double": "def double(x):\n    return x + 2"},  # right for 2, wrong for 0, -3, 10
    "wrong_too": {"double": "def double(x):\n    return x + 3", "square": "def square(x):\n    return x * 3"},
}


def test_report_of_a_class_graded_by_the_real_grader(kernel_factory, tmp_path, monkeypatch, capsys):
    course = support.make_course(tmp_path / "course", support.TARGET)
    support.submit_class(course, support.TARGET, REAL_CLASS)
    course.autograde(support.TARGET, kernel_factory(support.ANSWERS_PYTHONS[0], support.ANSWERS_METHODS[0]))

    status, out, err = run_report(course.path, [support.TARGET], monkeypatch, capsys)
    assert status == 0, err
    assert out.startswith(f"{support.TARGET}: 5 submission(s), mean ") and ", 1 flagged, 1 to look at." in out, out
    data, _ = report.class_report(support.TARGET, course=course.path)
    grades = grades_of(gradebook_url(course.path), support.TARGET)
    assert set(grades) == set(REAL_CLASS)
    for t in data.tests:
        cells = [student_cells[f"{support.TARGET}/{t.key}"] for student_cells in grades.values()]
        assert (t.passed, t.graded) == (sum(c.auto_score == c.max_score for c in cells), len(cells)), t.key
        failing = {s for s, c in grades.items() if c[f"{support.TARGET}/{t.key}"].auto_score != t.points}
        assert {s for g in t.groups for s in g.students} == failing and sum(g.count for g in t.groups) == t.failed
    tests = {t.key: t for t in data.tests}
    double = {g.pattern: g.students for g in tests["test_double"].groups}
    assert double == {"AssertionError: double(N) returned N; expected N": ("wrong", "wrong_too"),
                      "NotImplementedError: not answered yet": ("blank",)}, double
    assert tests["test_square"].failed == 2 and tests["test_add"].failed == 1
    by_student = {s.student: s for s in data.submissions}
    assert [s for s in by_student if by_student[s].flagged] == ["flagged"]
    assert "get_ipython" in by_student["flagged"].reason, by_student["flagged"].reason
    assert by_student["flagged"].score == by_student["honest"].score == data.max_score == 5
    assert all(s.seconds is not None and s.seconds > 0 for s in data.submissions), "a grading time is missing"
    assert [s.student for s in data.submissions if s.attention()] == ["flagged"]
    assert (course.path / "reports" / f"{support.TARGET}.html").is_file()
