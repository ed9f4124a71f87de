"""release/ is exactly what `nbgrader generate_assignment` makes from source/ now, and it
gives nothing away: no solution, no hidden test, no module written by a notebook."""

from __future__ import annotations

import re

import pytest

import support

MARKERS = re.compile(r"BEGIN SOLUTION|END SOLUTION|BEGIN HIDDEN TESTS|END HIDDEN TESTS")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """assignment -> the release folder that generate_assignment makes from source/ now."""
    made = {}

    def make(assignment: str):
        if assignment not in made:
            course = support.Course.create(tmp_path_factory.mktemp("generate") / "course", assignment)
            made[assignment] = course.path / "release" / assignment
        return made[assignment]

    return make


def files_of(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_release_matches_generate_assignment(assignment, generated):
    fresh, committed = files_of(generated(assignment)), files_of(support.RELEASE / assignment)
    assert sorted(committed) == sorted(fresh), (
        f"release/{assignment} holds {sorted(committed)}; generate_assignment makes {sorted(fresh)}. "
        "Regenerate it with `python3 run.py release`."
    )
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"release/{assignment}: {stale} differ from what generate_assignment makes now. " \
                      "Regenerate with `python3 run.py release`."


def region_lines(text: str, begin: str, end: str) -> list[str]:
    """The distinctive lines between the markers: long enough not to occur by chance."""
    lines, inside = [], False
    for line in text.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside and len(line.strip()) >= 12:
            lines.append(line.strip())
    return lines


def test_release_gives_nothing_away(assignment):
    source = support.read(support.source_notebook(assignment))
    release = support.read(support.release_notebook(assignment))
    released = {support.nbgrader_meta(c).get("grade_id"): c.source for c in release.cells}
    for cell in release.cells:
        assert not MARKERS.search(cell.source), f"release/{assignment} keeps a solution or hidden-test marker"
    for cell in source.cells:
        grade_id = support.nbgrader_meta(cell).get("grade_id")
        if grade_id is None:
            continue
        hidden = region_lines(cell.source, "### BEGIN SOLUTION", "### END SOLUTION")
        hidden += region_lines(cell.source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
        outside = set(region_lines("### END\n" + cell.source, "### END", "### BEGIN"))  # lines students may see
        leaked = [line for line in hidden if line in released[grade_id] and line not in outside]
        assert not leaked, f"release/{assignment}, cell {grade_id}, shows lines it should hide: {leaked}"
    extra = [p.name for p in (support.RELEASE / assignment).iterdir() if p.suffix != ".ipynb"]
    assert not extra, f"release/{assignment} ships files besides the notebook: {extra}"


def test_generated_modules_never_reach_release(tmp_path):
    """Running a source notebook writes its modules (countdown.py holds an answer) beside it;
    generate_assignment must still ship the notebook alone."""
    assignment = support.assignments()[0]
    course = support.Course.create(tmp_path / "course", assignment)
    (course.path / "source" / assignment / "countdown.py").write_text("ANSWER = 'the key'\n")
    course.nbgrader("generate_assignment", assignment, "--force")
    shipped = sorted(p.name for p in (course.path / "release" / assignment).iterdir())
    assert shipped == [f"{assignment}.ipynb"], f"release/{assignment} ships {shipped}; expected the notebook alone"
