"""Test cells that await: the hardened grader seals them like any test cell and awaits them
in the kernel's running event loop (Jupyter runs one, so a cell cannot call asyncio.run).
Its time bounds and "nothing left behind" hold for async answers too: a coroutine that
never finishes, one that blocks the loop, a task left running, a process pool left open.
The test cells await the answer through course.async_checks, as notebook 08's do.

The notebook is built here, in the test, like the hardening target (support.target).
"""

from __future__ import annotations

import nbformat

import support
from grader.cell_source import awaits_at_top_level
from grader_kernel import protocol

ASSIGNMENT = "async_target"

ANSWER = 'async def double_async(x):\n    """Return twice x, after a pause."""\n    ### BEGIN SOLUTION\n' \
         "    import asyncio\n\n    await asyncio.sleep(0.01)\n    return 2 * x\n    ### END SOLUTION"
TEST = '''"""Check that double_async(x) returns twice x."""
from course.async_checks import bounded, start

got = await bounded(double_async, 2)
assert got == 4, f"double_async(2) returned {got!r}; expected 4"
### BEGIN HIDDEN TESTS
from course.checks import stop_children

call = start(double_async, 10)
got = await call.result()
assert got == 20, f"double_async(10) returned {got!r}; expected 20"
left = await call.tasks_left(0.5)
assert not left, f"double_async left task(s) running: {left}"
assert not stop_children(), "double_async left a process running"
### END HIDDEN TESTS'''

# Each student's double_async, and the points each earns (test_double_async, test_add).
STUDENTS = {
    "honest": (None, (2.0, 1.0)),
    "wrong": ("async def double_async(x):\n    return x + 2", (0.0, 1.0)),
    "sleeps_forever": ("import asyncio\n\nasync def double_async(x):\n    await asyncio.sleep(3600)", (0.0, 1.0)),
    "blocks_the_loop": ("import time\n\nasync def double_async(x):\n    time.sleep(3600)", (0.0, 1.0)),
    "leaves_a_task": ("import asyncio\n\nasync def double_async(x):\n"
                      "    asyncio.get_running_loop().create_task(asyncio.sleep(3600))\n    return 2 * x", (0.0, 1.0)),
    # (A pool only referenced in the call shuts itself down when collected: this one is kept.)
    "leaves_a_pool": ("from concurrent.futures import ProcessPoolExecutor\nfrom course import workers\n\nPOOLS = []\n\n"
                      "async def double_async(x):\n    POOLS.append(ProcessPoolExecutor(1))\n"
                      "    POOLS[-1].submit(workers.square, 3).result()\n    return 2 * x", (0.0, 1.0)),
}


def cell(source: str, grade_id: str | None = None, **meta: object) -> nbformat.NotebookNode:
    made = nbformat.v4.new_code_cell(source)
    if grade_id:
        made.metadata["nbgrader"] = {"grade_id": grade_id, "grade": False, "solution": False, "locked": False,
                                     "schema_version": 3, **meta}
    return made


def async_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Async target 异步靶子\n\nAn assignment whose tests await the answers."),
        cell(ANSWER, "double_async", solution=True),
        cell("print(await double_async(21))"),  # a demonstration, as a student writes one
        cell(TEST, "test_double_async", grade=True, locked=True, points=2),
        cell('def add(a, b):\n    """Return a + b."""\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION',
             "add", solution=True),
        cell('"""Check add."""\nassert add(1, 2) == 3, "add(1, 2) was not 3"', "test_add", grade=True, locked=True,
             points=1),
    ]
    return nb


def test_which_cells_await():
    assert awaits_at_top_level(TEST)
    assert awaits_at_top_level("for x in range(2):\n    assert await f(x)")
    assert not awaits_at_top_level("assert f(2) == 4")
    assert not awaits_at_top_level("async def f():\n    await g()")  # awaits inside a function only
    assert not awaits_at_top_level("%time x = 1")  # IPython syntax: left to the kernel
    stub = protocol.stub("n" * 32, "c", "t", awaited=True)
    assert "await " in stub and "exec(" not in stub
    assert "await " not in protocol.stub("n" * 32, "c", "t")


def test_async_answers_graded_bounded_and_alone(kernel_factory, tmp_path):
    # The two hanging answers each wait out a demonstration's bound: each is graded in a
    # course of its own, at the same time as the others.
    hanging = ("sleeps_forever", "blocks_the_loop")
    groups = [[name for name in STUDENTS if name not in hanging], *[[name] for name in hanging]]
    courses = []
    for number, group in enumerate(groups):
        course = support.make_course(tmp_path / f"course{number}", ASSIGNMENT, source=async_notebook())
        answers = {name: {"double_async": STUDENTS[name][0]} if STUDENTS[name][0] else {} for name in group}
        support.submit_class(course, ASSIGNMENT, answers)
        courses.append(course)
    kernel = kernel_factory(support.ANSWERS_PYTHONS[0], support.ANSWERS_METHODS[0])
    support.autograde_at_once(courses, ASSIGNMENT, kernel)

    got = {}
    for course, group in zip(courses, groups, strict=True):
        for name in group:
            scores = course.scores(ASSIGNMENT, name)
            got[name] = (scores["test_double_async"][0], scores["test_add"][0])
    assert got == {name: points for name, (_, points) in STUDENTS.items()}
