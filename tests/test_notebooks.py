"""The notebooks follow the course's conventions (the syllabus and design notes), checked
without running them: titles, exercise structure, points, test cells, feedback messages,
and an answer corpus for every exercise."""

from __future__ import annotations

import ast
import re
import runpy

from traitlets.config import Config

import support

CJK = re.compile(r"[\u4e00-\u9fff]")


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_assignments_listed_in_config():
    config = runpy.run_path(str(support.ROOT / "nbgrader_config.py"), init_globals={"get_config": Config})
    assert config["ASSIGNMENTS"] == support.assignments(), (
        f"nbgrader_config.py lists {config['ASSIGNMENTS']}; source/ holds {support.assignments()}"
    )


def test_title_and_objectives(assignment):
    nb = support.read(support.source_notebook(assignment))
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "the notebook must open with a '# Title'"
    title = first.source.splitlines()[0]
    assert CJK.search(title), f"the title {title!r} must carry the Chinese term from the notes"
    assert "After this notebook you can" in first.source, "the first cell must list the objectives"
    assert any(c.cell_type == "markdown" and c.source.startswith("## Key points") for c in nb.cells), (
        "the notebook must end with a '## Key points' section"
    )


def test_source_committed_without_outputs(assignment):
    nb = support.read(support.source_notebook(assignment))
    with_output = [c.get("id") for c in code_cells(nb) if c.outputs or c.execution_count]
    assert not with_output, f"clear the outputs of these cells before committing: {with_output}"


def test_exercise_structure(assignment):
    nb = support.read(support.source_notebook(assignment))
    for cell in nb.cells:
        meta = support.nbgrader_meta(cell)
        if not meta.get("solution") or cell.cell_type != "code":
            continue
        grade_id, text = meta["grade_id"], cell.source
        assert grade_id == grade_id.lower(), f"answer cell ids are lower case: {grade_id}"
        assert "### BEGIN SOLUTION" in text and "### END SOLUTION" in text, f"{grade_id}: no solution markers"
        before = text.split("### BEGIN SOLUTION")[0]
        assert re.search(r"^\s*(async\s+def|def|class) ", before, re.M), (
            f"{grade_id}: the signature (def or class line) must stand before the solution markers, "
            "so that students keep it"
        )
        if text.startswith("%%writefile"):
            following = nb.cells[nb.cells.index(cell) + 1]
            assert support.nbgrader_meta(following).get("locked") and "reload" in following.source, (
                f"{grade_id}: a module exercise must be followed by a locked cell that imports and reloads it"
            )


def test_test_cells(assignment):
    nb = support.read(support.source_notebook(assignment))
    solutions = support.solution_ids(nb)
    for cell in support.test_cells(nb):
        meta = support.nbgrader_meta(cell)
        grade_id = meta["grade_id"]
        assert meta.get("locked"), f"{grade_id}: test cells must be locked"
        assert meta.get("points", 0) > 0, f"{grade_id}: a test cell must carry points"
        assert any(grade_id == f"test_{s}" or grade_id.startswith(f"test_{s}_") for s in solutions), (
            f"{grade_id}: a test cell's id is test_<exercise> or test_<exercise>_<aspect>"
        )
        tree = ast.parse(cell.source)
        assert ast.get_docstring(tree), f"{grade_id}: a test cell opens with a docstring saying what it checks"
        assert "### BEGIN HIDDEN TESTS" in cell.source, f"{grade_id}: no hidden tests"
        visible = cell.source.split("### BEGIN HIDDEN TESTS")[0]
        assert "assert" in visible, f"{grade_id}: no visible check before the hidden tests"
        problems = support.assert_messages(cell.source)
        assert not problems, f"{grade_id}: {problems}"


def test_points(assignment):
    nb = support.read(support.source_notebook(assignment))
    points = sum(support.nbgrader_meta(c).get("points", 0) for c in nb.cells if support.nbgrader_meta(c).get("grade"))
    assert points == 10, f"{assignment} totals {points} points; every notebook totals 10"
    for exercise in support.solution_ids(nb):
        match = re.search(rf"### Exercise \w — `{exercise}.*\((\d+) points?\)", "\n".join(
            c.source for c in nb.cells if c.cell_type == "markdown"), re.I)
        tests = support.exercises(nb).get(exercise)
        if match and tests:
            got = sum(support.nbgrader_meta(c)["points"] for c in support.test_cells(nb)
                      if support.nbgrader_meta(c)["grade_id"] in tests)
            assert got == int(match.group(1)), (
                f"{exercise}: the heading says {match.group(1)} points, its tests carry {got}"
            )


def test_answer_corpus_covers_every_exercise(assignment):
    nb = support.read(support.source_notebook(assignment))
    answers = support.load_answers(assignment)
    exercises = support.exercises(nb)
    assert set(answers) <= set(exercises), f"answers for unknown exercises: {sorted(set(answers) - set(exercises))}"
    for exercise in exercises:
        mine = answers.get(exercise, [])
        wrong = [a for a in mine if not a.right]
        right = [a for a in mine if a.right]
        assert len(wrong) >= 3 and len(right) >= 1, (
            f"tests/answers/{assignment}/{exercise}/ has {len(wrong)} wrong and {len(right)} right answers; "
            "expected at least 3 wrong (each a real student mistake) and 1 right answer written unlike the key"
        )
        for answer in mine:
            assert answer.description, f"{answer.label}: open the file with a comment saying what it does"
            support.with_answers(nb, [answer])  # every cell it fills exists


# What starts a process in a notebook's code: multiprocessing's processes and pools (not its
# ThreadPool), process executors, subprocesses, os.fork and the exec family, start-method and
# context choices, asyncio's executors and subprocesses, and subinterpreters.
STARTS_A_PROCESS = re.compile(
    r"\bProcess\(|\bPool\(|ProcessPool|\bsubprocess\b|\bos\.(fork|forkpty|exec\w*|spawn\w*|posix_spawn\w*|system|popen)\b"
    r"|\b(get_context|set_start_method|run_in_executor|create_subprocess_\w+)\b|\binterpreters\b|\bPopen\b")


def _process_starts(assignment: str) -> dict[str, str]:
    """Each code cell of the source notebook that names something that starts a process: what it names."""
    nb = support.read(support.source_notebook(assignment))
    return {f"{assignment} cell {index}": found.group() for index, cell in enumerate(nb.cells)
            if cell.cell_type == "code" and (found := STARTS_A_PROCESS.search(cell.source))}


def test_process_free_notebooks_name_nothing_that_starts_a_process():
    """support.reference_runs grades a notebook of PROCESS_FREE once per Python, under one start
    method each time, since the start method cannot matter to a notebook that starts no
    process. Its code cells, hidden tests included, must name nothing that could start one."""
    assert set(support.PROCESS_FREE) <= set(support.assignments()), "PROCESS_FREE names a notebook that is not there"
    found = {cell: name for assignment in support.PROCESS_FREE for cell, name in _process_starts(assignment).items()}
    assert not found, f"expected no process started in these notebooks, but their cells name: {found}"


def test_what_starts_a_process_is_recognised():
    notebooks = [a for a in support.assignments() if a not in support.PROCESS_FREE]
    starting = [a for a in notebooks if _process_starts(a)]
    assert starting == notebooks, f"expected every notebook outside PROCESS_FREE to start processes: {starting}"
    assert not STARTS_A_PROCESS.search("from multiprocessing.pool import ThreadPool\nwith ThreadPool(4) as pool:")
