"""The corpus of student answers (tests/answers/), and submissions built from it."""

from __future__ import annotations

import ast
import copy
import dataclasses
import re
from collections.abc import Iterable
from pathlib import Path

from nbformat import NotebookNode

from support.courses import Course, error_outputs, stderr_outputs
from support.layout import ANSWERS, exercises, nbgrader_meta, read, release_notebook, source_notebook, test_cells


@dataclasses.dataclass(frozen=True)
class Answer:
    """A student's answer to one exercise: the cells it fills in, and whether it is right.

    Stored as ``tests/answers/<assignment>/<exercise>/{right,wrong}_<name>.py``: the file
    is the answer cell exactly as a student would leave it. Its first comment says what
    the answer does. An answer that fills two cells marks each with ``# %% cell: <grade_id>``.
    An answer whose grading could depend on timing (a race, an order of completion, a
    deadlock) says so in a line ``# racy: <what races>``; test_determinism.py grades those
    several times and requires the same scores every time.
    """

    assignment: str
    exercise: str
    name: str
    right: bool
    description: str
    cells: dict[str, str]
    racy: str = ""

    @property
    def label(self) -> str:
        return f"{self.exercise}/{self.name}"


CELL_MARKER = re.compile(r"^# %% cell: (\w+)\s*$", re.M)
RACY_MARKER = re.compile(r"^# racy: (.+?)\s*$", re.M)


def load_answer(path: Path) -> Answer:
    text = path.read_text()
    exercise, assignment = path.parent.name, path.parent.parent.name
    # The first comment says what the answer does (after a %%writefile line, which must come first).
    description = next((line.strip()[2:] for line in text.splitlines()
                        if line.strip().startswith("# ") and not CELL_MARKER.match(line)), "")
    racy = RACY_MARKER.search(text)
    parts = CELL_MARKER.split(text)
    if len(parts) == 1:
        cells = {exercise: text.strip("\n")}
    else:
        cells = {parts[i]: parts[i + 1].strip("\n") for i in range(1, len(parts), 2)}
    kind = path.stem.split("_", 1)[0]
    if kind not in ("right", "wrong"):
        raise ValueError(f"{path}: answer files are named right_<name>.py or wrong_<name>.py")
    return Answer(assignment, exercise, path.stem, kind == "right", description, cells,
                  racy.group(1) if racy else "")


def load_answers(assignment: str) -> dict[str, list[Answer]]:
    """exercise -> its answers, wrong and right."""
    found: dict[str, list[Answer]] = {}
    for path in sorted((ANSWERS / assignment).glob("*/*.py")):
        answer = load_answer(path)
        found.setdefault(answer.exercise, []).append(answer)
    return found


def with_answers(nb: NotebookNode, answers: Iterable[Answer]) -> NotebookNode:
    """A copy of ``nb`` with each answer's cells in place of the ones it names."""
    result = copy.deepcopy(nb)
    by_id = {nbgrader_meta(c).get("grade_id"): c for c in result.cells}
    for answer in answers:
        for grade_id, text in answer.cells.items():
            cell = by_id.get(grade_id)
            if cell is None or not nbgrader_meta(cell).get("solution"):
                raise ValueError(f"{answer.label}: the notebook has no answer cell {grade_id!r}")
            cell.source = text
    return result


def submissions(assignment: str, racy: bool = False, *, racy_wrong: bool = True) -> dict[str, list[Answer]]:
    """Group the corpus into submissions: the k-th wrong (or right) answer of every exercise
    in one notebook, so that one grading run checks one answer per exercise.

    ``racy=True`` gives only the answers marked racy, right and wrong together, which
    test_determinism.py grades several times each. ``racy_wrong=False`` leaves the wrong
    answers marked racy out of the others (test_answers.py leaves them to test_determinism.py).
    """
    result: dict[str, list[Answer]] = {}
    for exercise_answers in load_answers(assignment).values():
        if racy:  # right and wrong together: each submission is graded several times
            chosen = [a for a in exercise_answers if a.racy]
            for k, answer in enumerate(chosen):
                result.setdefault(f"racy-{k + 1}", []).append(answer)
            continue
        for right in (False, True):
            chosen = [a for a in exercise_answers if a.right is right and (right or racy_wrong or not a.racy)]
            for k, answer in enumerate(chosen):
                result.setdefault(f"{'right' if right else 'wrong'}-{k + 1}", []).append(answer)
    return result


def graded_answer_problems(course: Course, assignment: str, student: str, answers: Iterable[Answer]) -> list[str]:
    """What is wrong with how ``student``'s graded submission scored ``answers``: a right
    answer without full marks, a wrong one with them, a flag on an honest submission, or
    a failed assertion that does not say what was expected. Prints each answer's score."""
    scores = course.scores(assignment, student)
    graded = course.autograded(assignment, student)
    tests_of = exercises(graded)
    failures = {nbgrader_meta(cell)["grade_id"]: error_outputs([cell]) + stderr_outputs([cell])
                for cell in test_cells(graded)}
    problems = []
    for answer in answers:
        tests = tests_of[answer.exercise]
        earned = sum(scores[test][0] for test in tests)
        possible = sum(scores[test][1] for test in tests)
        why = {test: failures[test] for test in tests if failures[test]}
        if answer.right and earned != possible:
            problems.append(f"{answer.label} ({answer.description}) is right but earned {earned:g}/{possible:g}: {why}")
        if not answer.right and earned >= possible:
            problems.append(f"{answer.label} ({answer.description}) is wrong but earned {earned:g}/{possible:g}")
        print(f"{student}: {answer.label}: {earned:g}/{possible:g}")
    # No answer in the corpus tampers with anything: the hardened grader must flag none.
    flags = graded.metadata.get("course_grading", {}).get("flags")
    if flags is None:
        problems.append(f"{student}: the graded notebook has no report from grader: was the hardened grader used?")
    elif flags:
        problems.append(f"{student}: the grader flagged an honest submission for review: {flags}")
    # Feedback must explain itself: a failed assertion says what was expected.
    for test, errors in failures.items():
        for _, error in errors:
            if error.startswith("AssertionError") and "expected" not in error:
                problems.append(f"{test} failed with a message that does not say what was expected: {error}")
    return problems


def assert_messages(source: str) -> list[str]:
    """Problems with a test cell's failure messages: every assert needs one that says what
    was expected (the word 'expected'), so that feedback explains itself."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        message = None
        if isinstance(node, ast.Assert):
            if node.msg is None:
                problems.append(f"line {node.lineno}: assert without a message")
                continue
            message = node.msg
        elif (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
              and getattr(node.exc.func, "id", "") == "AssertionError"):
            message = node.exc.args[0] if node.exc.args else None
            if message is None:
                problems.append(f"line {node.lineno}: AssertionError without a message")
                continue
        if message is not None and "expected" not in ast.unparse(message):
            problems.append(f"line {node.lineno}: the message does not say what was expected")
    return problems


def without_demonstrations(nb: NotebookNode) -> NotebookNode:
    """``nb`` without its demonstrations: the code cells nbgrader does not know (a student
    may delete them). What the tests need is in answer, locked and test cells."""
    result = copy.deepcopy(nb)
    result.cells = [cell for cell in result.cells if cell.cell_type != "code" or nbgrader_meta(cell)]
    return result


_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def _defined_names(source: str) -> set[str]:
    """The names an answer cell defines at its top level; for a ``%%writefile name.py`` cell,
    also the module it writes."""
    names = set()
    first, _, rest = source.partition("\n")
    if first.startswith("%%writefile"):
        names.add(Path(first.split()[-1]).stem)
        source = rest
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return names
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(name.id for target in targets for name in ast.walk(target) if isinstance(name, ast.Name))
    return names


def needed_answers(assignment: str, exercises_: Iterable[str]) -> set[str]:
    """The answer cells (grade ids) that the tests of these exercises run: the exercises' own,
    and, transitively, every answer that those answers or the exercises' tests (hidden ones
    included) name something of (``transfer``'s tests use the student's ``Account``)."""
    source = read(source_notebook(assignment))
    answer_cells = {nbgrader_meta(c)["grade_id"]: c.source for c in source.cells if nbgrader_meta(c).get("solution")}
    defines = {grade_id: _defined_names(text) for grade_id, text in answer_cells.items()}
    tests = {nbgrader_meta(c)["grade_id"]: c.source for c in test_cells(source)}
    needed = set(exercises_)
    names = {word for exercise in needed for grade_id, text in tests.items()
             if grade_id == f"test_{exercise}" or grade_id.startswith(f"test_{exercise}_")
             for word in _IDENTIFIER.findall(text)}
    while True:
        names |= {word for grade_id in needed for word in _IDENTIFIER.findall(answer_cells.get(grade_id, ""))}
        more = {grade_id for grade_id, defined in defines.items() if defined & names} - needed
        if not more:
            return needed
        needed |= more


def only_needed_answers(nb: NotebookNode, assignment: str, answers: Iterable[Answer]) -> NotebookNode:
    """A copy of the student notebook ``nb`` whose answer cells that ``answers`` neither fill
    nor need (:func:`needed_answers`) are left unanswered, as released: the other exercises'
    tests then fail at once instead of running the key's answers in earnest."""
    answers = list(answers)
    needed = needed_answers(assignment, {a.exercise for a in answers} | {g for a in answers for g in a.cells})
    released = {nbgrader_meta(c).get("grade_id"): c.source for c in read(release_notebook(assignment)).cells}
    result = copy.deepcopy(nb)
    for cell in result.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if nbgrader_meta(cell).get("solution") and grade_id not in needed:
            cell.source = released[grade_id]
    return result


def student_notebook(assignment: str, answers: list[Answer]) -> NotebookNode:
    """The release notebook as a student hands it in: the key's answer in every cell, except
    the cells these answers fill. (Built from release/, so its test cells lack the hidden
    tests, and autograding must restore them.)"""
    source = read(source_notebook(assignment))
    key = {nbgrader_meta(c)["grade_id"]: c.source for c in source.cells if nbgrader_meta(c).get("solution")}
    notebook = read(release_notebook(assignment))
    for cell in notebook.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in key:
            cell.source = key[grade_id]
    return with_answers(notebook, answers)
