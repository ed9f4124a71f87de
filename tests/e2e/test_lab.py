"""The course in a real browser: JupyterLab, started as `python3 run.py lab` starts it, on a
copy of the course, driven in headless Chromium as a student or instructor would drive it.

Each test takes numbered screenshots into screenshots/<test>/ (git-ignored); a failing step
says which it was and where its screenshot is. The tests need Chromium (.ci/run installs
Debian's `chromium`); without it they fail and say how to install it.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from playwright.sync_api import expect

import support
from lab_support import ACTION_MS, RUN_ALL_MS, SCREENSHOTS, completed_notebook, config_assignments, lab_session


def notebook_path(assignment: str) -> str:
    return f"release/{assignment}/{assignment}.ipynb"


@pytest.mark.parametrize("notebook", ["01_processes", "03_process_pools"])
def test_run_all_without_errors(request, notebook):
    """A completed release notebook: Run → Run All Cells runs every cell, none shows an error."""
    with lab_session(request.node.name, completed=(notebook,)) as lab:
        with lab.step("notebook opened, kernel idle"):
            lab.open_notebook(notebook_path(notebook))
        with lab.step("Run All Cells finished"):
            lab.run_all()
            prompts = lab.prompt_texts()
            not_run = [index for index, text in enumerate(prompts) if not re.fullmatch(r"\[\d+\]:", text)]
            assert not not_run, (
                f"after Run All, code cells {not_run} (counting code cells from 0) did not run: prompts {prompts}"
            )
        with lab.step("saved; the saved notebook holds no error output"):
            lab.save()
            saved = support.read(lab.course / notebook_path(notebook))
            errors = support.error_outputs(saved.cells)
            assert not errors, f"cells raised errors under Run All: {errors}"
            assert all(cell.execution_count for cell in saved.cells if cell.cell_type == "code"), (
                "a code cell was not run"
            )
        if notebook == "03_process_pools":
            with lab.step("the explorer shows its measurements and plot"):
                explorer = lab.code_cell("explorer = WorkerExplorer(").locator(".widget-vbox")
                explorer.scroll_into_view_if_needed()
                expect(explorer.locator(".widget-html-content")).to_contain_text("Best:")
                image = explorer.locator("img.widget-image")
                expect(image).to_be_visible()
                assert image.evaluate("e => e.naturalWidth") > 100, "the explorer's plot image is empty"


# Fingerprint of the explorer's plot: the PNG bytes behind the <img>, hashed in the page.
IMAGE_FINGERPRINT = """async e => {
    const bytes = new Uint8Array(await (await fetch(e.src)).arrayBuffer());
    let hash = 2166136261;
    for (const b of bytes) hash = Math.imul(hash ^ b, 16777619) >>> 0;
    return {length: bytes.length, hash: hash, png: bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47};
}"""

# Records every state the explorer's status line, progress bar and Run button pass through.
WATCH_EXPLORER = """root => {
    const bar = root.querySelector('.widget-hprogress .progress-bar');
    const status = root.querySelector('.widget-html-content');
    const run = [...root.querySelectorAll('button')].find(b => b.textContent.trim() === 'Run');
    const log = {widths: [], statuses: [], disabled: []};
    const push = (list, value) => { if (list[list.length - 1] !== value) list.push(value); };
    const record = () => {
        push(log.widths, bar.style.width); push(log.statuses, status.textContent); push(log.disabled, run.disabled);
    };
    record();
    new MutationObserver(record).observe(root, {subtree: true, attributes: true, childList: true, characterData: true});
    window.explorerLog = log;
}"""

PARTIAL = "w => { const v = parseFloat(w); return v > 0 && v < 100; }"


def test_explorer_slider_and_run(request):
    """The worker-count explorer in the blank release notebook: it renders; Run measures;
    after dragging the workers slider, Run measures again, with a moving progress bar, and
    the status line and plot change."""
    with lab_session(request.node.name) as lab:
        page = lab.page
        with lab.step("notebook 03 opened"):
            lab.open_notebook(notebook_path("03_process_pools"))
        cell = lab.code_cell("explorer = WorkerExplorer(")
        explorer = cell.locator(".widget-vbox")
        status = explorer.locator(".widget-html-content")
        # (By its text: the icon font's glyph is part of the button's accessible name.)
        run = explorer.locator("button", has_text=re.compile(r"^\s*Run\s*$"))
        image = explorer.locator("img.widget-image")
        with lab.step("explorer cell run: the controls render"):
            lab.run_cell(cell)
            expect(status).to_contain_text("Press Run to measure", timeout=ACTION_MS)
            explorer.scroll_into_view_if_needed()
            expect(run).to_be_enabled()
            expect(image).to_be_hidden()  # no broken-image icon before the first run
        workers = explorer.locator(".widget-hslider").filter(has_text="workers (most):")
        handle = workers.locator(".noUi-handle")
        first = int(handle.get_attribute("aria-valuenow").split(".")[0])
        with lab.step(f"Run pressed with {first} workers: measured"):
            run.click()
            expect(status).to_contain_text("Best:", timeout=RUN_ALL_MS)
            expect(run).to_be_enabled(timeout=RUN_ALL_MS)
            expect(image).to_be_visible()
            before_text = status.text_content()
            before_image = image.evaluate(IMAGE_FINGERPRINT)
            assert before_image["png"] and before_image["length"] > 1000, f"no plot after the first run: {before_image}"
        lowest = int(float(handle.get_attribute("aria-valuemin")))
        highest = int(float(handle.get_attribute("aria-valuemax")))
        target = highest if first < highest else max(lowest, highest // 2)
        with lab.step(f"workers slider dragged from {first} to {target}"):
            track = workers.locator(".noUi-base").bounding_box()
            knob = handle.bounding_box()
            assert track and knob, "the workers slider is not on screen"
            x = track["x"] + track["width"] * (target - lowest) / (highest - lowest)
            page.mouse.move(knob["x"] + knob["width"] / 2, knob["y"] + knob["height"] / 2)
            page.mouse.down()
            page.mouse.move(x, knob["y"] + knob["height"] / 2, steps=12)
            page.mouse.up()
            expect(workers.locator(".widget-readout")).to_have_text(str(target))
        with lab.step("Run pressed again: the progress bar fills while it runs"):
            explorer.evaluate(WATCH_EXPLORER)
            run.click()
            page.wait_for_function(
                f"() => window.explorerLog.widths.some({PARTIAL})", polling="raf", timeout=RUN_ALL_MS
            )
        with lab.step(f"second run finished: new measurements for 1 to {target} workers, new plot"):
            page.wait_for_function(
                "() => { const log = window.explorerLog;"
                " return log.statuses[log.statuses.length - 1].includes('Best:')"
                " && log.statuses.some(s => s.startsWith('measuring')) && !log.disabled[log.disabled.length - 1]; }",
                timeout=RUN_ALL_MS,
            )
            log = page.evaluate("() => window.explorerLog")
            assert f"measuring 1 to {target} processes ..." in log["statuses"], (
                f"the kernel did not measure up to the slider's {target} workers: statuses {log['statuses']}"
            )
            assert True in log["disabled"], f"Run was not disabled while running: {log['disabled']}"
            assert log["widths"][-1] == "100%", f"the progress bar ended at {log['widths'][-1]}, not 100%"
            assert any(w not in ("0%", "100%", "") for w in log["widths"]), f"no partial progress seen: {log['widths']}"
            after_image = image.evaluate(IMAGE_FINGERPRINT)
            assert after_image["png"], f"no plot after the second run: {after_image}"
            assert after_image != before_image, "the plot did not change after moving the slider and pressing Run"
            assert log["statuses"][0] == before_text and "Best:" in log["statuses"][-1], (
                f"the status line went {log['statuses']}: "
                "expected the first run's result, 'measuring ...', a new result"
            )
            image.scroll_into_view_if_needed()


@pytest.mark.parametrize("state", ["blank", "completed"])
def test_validate_button(request, state):
    """nbgrader's Validate button: the blank notebook fails validation, a completed one passes."""
    notebook = "01_processes"
    completed = (notebook,) if state == "completed" else ()
    with lab_session(request.node.name, completed=completed) as lab:
        page = lab.page
        with lab.step(f"{state} notebook opened"):
            lab.open_notebook(notebook_path(notebook))
        dialog = page.locator(".jp-Dialog")
        with lab.step("Validate pressed: validating"):
            # Its label, where a person clicks (the button itself sits in a shadow root under it).
            page.locator(".jp-NotebookPanel-toolbar .validate-button").get_by_text("Validate", exact=True).click()
            expect(page.get_by_text("Validating...").or_(dialog).first).to_be_visible(timeout=ACTION_MS)
        with lab.step(f"validation result for the {state} notebook"):
            expect(dialog.get_by_text("Validation Results")).to_be_visible(timeout=RUN_ALL_MS)
            if state == "blank":
                expect(dialog.locator(".validation-failed")).to_be_visible()
                # Each failed cell is listed with its source: every exercise must have one.
                shown = "\n".join(dialog.locator(".validation-failed pre").all_inner_texts())
                release = support.read(support.release_notebook(notebook))
                first_lines = {support.nbgrader_meta(c)["grade_id"]: c.source.splitlines()[0]
                               for c in support.test_cells(release)}
                passing = [exercise for exercise, tests in support.exercises(release).items()
                           if not any(first_lines[test] in shown for test in tests)]
                assert not passing, (
                    f"Validate found no failing test for these exercises of the blank notebook: {passing}"
                )
            else:
                expect(dialog.locator(".validation-success")).to_contain_text(
                    "Success! Your notebook passes all the tests."
                )
        with lab.step("result dialog closed"):
            dialog.get_by_role("button", name="Ok").click()
            expect(dialog).to_have_count(0)


def test_formgrader_lists_the_assignments(request):
    """Nbgrader → Formgrader in JupyterLab, and the /formgrader page itself, list every
    assignment of nbgrader_config.py's ASSIGNMENTS."""
    wanted = config_assignments()
    with lab_session(request.node.name) as lab:
        page = lab.page
        with lab.step("JupyterLab opened"):
            lab.open_lab()
        with lab.step("Nbgrader menu: its extensions are loaded"):
            page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile("^Nbgrader$")).click()
            menu = page.locator(".lm-Menu").last
            for item in ("Assignment List", "Formgrader"):
                expect(menu.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{item}$"))).to_be_visible()
        with lab.step("Formgrader tab lists the assignments"):
            label = page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Formgrader$"))
            menu.locator(".lm-Menu-item").filter(has=label).click()
            frame = page.frame_locator("iframe[src*='/formgrader']")
            check_assignment_table(frame, wanted)
            assert (lab.course / "gradebook.db").exists(), (
                "the formgrader did not make its gradebook in the course copy"
            )
        with lab.step("the /formgrader page lists the assignments"):
            page.goto(f"{lab.server.url}/formgrader?token={lab.server.token}")
            expect(page.get_by_role("heading", name="Manage Assignments")).to_be_visible()
            check_assignment_table(page, wanted)


def check_assignment_table(where, wanted: list[str]) -> None:
    """The Manage Assignments table lists every one of ``wanted``, each with a link.

    (That ASSIGNMENTS and source/ agree is test_notebooks.py's test_assignments_listed_in_config.)"""
    table = where.locator("table").filter(has_text="Name")
    for assignment in wanted:
        try:
            expect(table.get_by_role("link", name=assignment, exact=True)).to_be_visible(timeout=ACTION_MS)
        except AssertionError:
            listed = [t.strip() for t in table.locator("tbody tr td:first-child").all_inner_texts() if t.strip()]
            raise AssertionError(f"the formgrader does not list {assignment}: it lists {listed}") from None


def test_formgrader_autograde_button_uses_the_hardened_grader(request):
    """Formgrader → Manage Assignments → generate 01, then Manage Submissions → the autograde
    button for a completed submission: it succeeds, the row shows full marks, and the graded
    notebook carries the course grader's report (nbgrader_config.py applies in the server too)."""
    assignment = "01_processes"
    with lab_session(request.node.name) as lab:
        page = lab.page
        submission = lab.course / "submitted" / "alice" / assignment / f"{assignment}.ipynb"
        submission.parent.mkdir(parents=True)
        nbformat.write(completed_notebook(assignment), submission)
        with lab.step("Manage Assignments: the student version generated"):
            page.goto(f"{lab.server.url}/formgrader?token={lab.server.token}")
            row = page.locator("tr", has=page.get_by_role("link", name=assignment, exact=True))
            row.locator("td.assign a").click()
            success = page.locator("#success-modal")
            expect(success).to_be_visible(timeout=RUN_ALL_MS)
            success.get_by_role("button", name="OK").click()
            expect(success).to_be_hidden()
        with lab.step("Manage Submissions: alice's submission autograded"):
            page.goto(f"{lab.server.url}/formgrader/manage_submissions/{assignment}?token={lab.server.token}")
            row = page.locator("tr", has_text="alice")
            row.locator("td.autograde a").click()
            success = page.locator("#success-modal")
            expect(success).to_be_visible(timeout=RUN_ALL_MS)
            expect(success).to_contain_text(f"Successfully autograded '{assignment}' for student 'alice'")
            success.get_by_role("button", name="OK").click()
            expect(success).to_be_hidden()
            expect(page.locator(".modal-backdrop")).to_have_count(0)
            # The score column: full marks (the only manually graded answer is in 07).
            expect(row.locator("td").filter(has_text=re.compile(r"^\s*(\d+(\.\d+)?) / \1\s*$"))).to_be_visible()
        graded = support.read(lab.course / "autograded" / "alice" / assignment / f"{assignment}.ipynb")
        report = graded.metadata.get("course_grading")
        assert report is not None, "the Formgrader's autograde did not use the course's hardened grader"
        assert report["flags"] == {} and report["notes"] == [], (
            f"the grader flagged or noted an honest submission: {report}"
        )
        assert support.error_outputs(support.test_cells(graded)) == [], "a test of the completed notebook failed"


# Records what the check button's progress bar and elapsed-time label show while it checks.
WATCH_CHECK = """root => {
    const bar = root.querySelector('.course-check-progress .progress-bar');
    const label = root.querySelector('.course-check-elapsed');
    const log = {widths: [], labels: []};
    const push = (list, value) => { if (list[list.length - 1] !== value) list.push(value); };
    const record = () => { push(log.widths, bar.style.width); push(log.labels, label.textContent); };
    record();
    new MutationObserver(record).observe(root, {subtree: true, attributes: true, childList: true, characterData: true});
    window.checkLog = log;
}"""


def test_check_button(request):
    """The "Check my answers" button that ends release notebook 01, with one wrong answer:
    run the last cell, save, press the button; a progress bar and the elapsed time show
    while it checks, then the points of each exercise and test and the failed test's
    message. The result's screenshot is screenshots/check-button.png."""
    assignment = "01_processes"
    wrong = next(a for a in support.load_answers(assignment)["usable_cpus"] if a.name == "wrong_cpu_count")
    source = support.read(support.source_notebook(assignment))
    points = {support.nbgrader_meta(c)["grade_id"]: support.nbgrader_meta(c)["points"]
              for c in support.test_cells(source)}
    exercises = support.exercises(source)
    with lab_session(request.node.name) as lab:
        page = lab.page
        saved = lab.course / notebook_path(assignment)
        nbformat.write(support.student_notebook(assignment, [wrong]), saved)
        with lab.step("notebook 01 opened, with a wrong answer to usable_cpus"):
            lab.open_notebook(notebook_path(assignment))
        cell = lab.code_cell("check_button(")
        widget = cell.locator(".course-check")
        button = widget.locator("button.course-check-button", has_text="Check my answers")
        with lab.step("last cell run: the button, and when the notebook was last saved"):
            lab.run_cell(cell)
            expect(button).to_be_visible(timeout=ACTION_MS)
            expect(button).to_be_enabled()
            expect(widget).to_contain_text("Save the notebook first (Ctrl-S)")
            expect(widget).to_contain_text(re.compile(rf"{assignment}\.ipynb was last saved at \d\d:\d\d:\d\d"))
        with lab.step("saved, then Check my answers pressed: checking, with a progress bar"):
            lab.save()
            before = saved.read_bytes()
            widget.evaluate(WATCH_CHECK)
            button.click()
            expect(button).to_be_disabled(timeout=ACTION_MS)
            expect(widget.locator(".course-check-progress")).to_be_visible()
            expect(widget).to_contain_text(re.compile(r"checking\.\.\. \d+ s"))
        result = widget.locator(".course-check-result")
        with lab.step("the result: points per exercise and test, and what the failed test said"):
            expect(result).to_be_visible(timeout=RUN_ALL_MS)
            expect(button).to_be_enabled()
            expect(widget).to_contain_text(re.compile(r"checked in \d+ s"))
            rows = result.locator("tr").evaluate_all(
                "rows => rows.map(r => [r.className, ...[...r.cells].map(c => c.innerText.trim())])")
            lost = points["test_usable_cpus"]
            wanted = []
            for exercise, tests in exercises.items():
                most = sum(points[t] for t in tests)
                wanted.append(["exercise", exercise, f"{0 if exercise == 'usable_cpus' else most} / {most}"])
                wanted += [["test", t, f"{0 if t == 'test_usable_cpus' else points[t]} / {points[t]}"] for t in tests]
            wanted.append(["total", "total", f"{10 - lost} / 10"])
            assert [row[:3] for row in rows] == wanted, f"the button shows {rows}"
            failures = {row[1]: row[3] for row in rows if row[0] == "test" and row[3]}
            assert list(failures) == ["test_usable_cpus"] and failures["test_usable_cpus"].startswith(
                "AssertionError: "), failures
            assert (lab.course / "feedback" / "self-check" / f"{assignment}.html").is_file()
            assert saved.read_bytes() == before, "the check changed the learner's notebook"
            log = page.evaluate("() => window.checkLog")
            assert any(w not in ("0%", "100%", "") for w in log["widths"]), f"no partial progress: {log['widths']}"
            ticks = [int(m.group(1)) for text in log["labels"] if (m := re.match(r"checking\.\.\. (\d+) s", text))]
            assert len(ticks) >= 3 and ticks == sorted(ticks), f"the elapsed time did not count up: {log['labels']}"
            cell.evaluate("e => e.scrollIntoView({block: 'start'})")  # the cell, its button and the whole result
            page.screenshot(path=str(SCREENSHOTS / "check-button.png"))


def test_class_report_page(tmp_path):
    """The class report (`python3 run.py report`) of a graded class of twelve, opened from its
    file in Chromium with no network: its three figures are drawn, the tests table lists every
    test lowest pass rate first, each failed test has its table of grouped messages, and the
    flagged student is listed with the reason. The page's screenshot is screenshots/report.png."""
    from playwright.sync_api import sync_playwright

    from grader.report import class_report
    from lab_support import CHROMIUM_ARGS, SCREENSHOTS, BrowserMissing, find_chromium
    from support.graded_class import ASSIGNMENT, FLAG_REASON, TESTS, make_class, typical_class

    try:
        chromium = find_chromium()
    except BrowserMissing as missing:
        pytest.fail(str(missing), pytrace=False)  # fail, never skip: CI must install it
    course = make_class(tmp_path / "course", typical_class(12))
    data, written = class_report(ASSIGNMENT, course=course)
    page_file = written[0]
    elsewhere: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, timeout=ACTION_MS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(ACTION_MS)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))

            def offline(route):
                if not route.request.url.startswith(("file:", "data:")):
                    elsewhere.append(route.request.url)
                    return route.abort()
                return route.continue_()

            page.route("**/*", offline)
            page.goto(page_file.as_uri())
            expect(page.get_by_role("heading", name=f"{ASSIGNMENT} — class report")).to_be_visible()
            for figure in ("#figure-scores", "#figure-exercises", "#figure-pass-rates"):
                image = page.locator(figure)
                image.scroll_into_view_if_needed()
                expect(image).to_be_visible()
                size = image.evaluate("e => [e.complete, e.naturalWidth, e.naturalHeight, e.clientWidth]")
                assert size[0] and size[1] > 300 and size[2] > 100 and size[3] > 300, f"{figure} is not drawn: {size}"
            rows = page.locator("#tests-table tbody tr").evaluate_all(
                "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))")
            assert [row[0] for row in rows] == [t.key for t in data.tests] and len(rows) == len(TESTS), rows
            assert [row[3] for row in rows] == [f"{t.passed} / {t.graded}" for t in data.tests], rows
            assert rows[0][0] == "test_run_all" and rows[0][4] == f"{round(100 * data.tests[0].pass_rate)}%", rows
            failing = [t for t in data.tests if t.groups]
            expect(page.locator("table.failures")).to_have_count(len(failing))
            first = page.locator("table.failures[data-test='test_run_all'] tbody tr").first
            expect(first).to_contain_text("returned [N, N]; expected [N, N]")
            expect(first).to_contain_text("student02, student08")
            flagged = page.locator("#attention-table tr[data-student='student07']")
            expect(flagged).to_contain_text(f"flagged: {FLAG_REASON}")
            expect(page.locator("#students-table tbody tr")).to_have_count(12)
            page.screenshot(path=str(SCREENSHOTS / "report.png"), full_page=True)
            assert not errors, f"JavaScript errors in the page: {errors}"
        finally:
            browser.close()
    assert not elsewhere, f"the report loaded files from elsewhere: {elsewhere}"
