"""The class report's files: one HTML page with its figures embedded, and its numbers as CSV."""

from __future__ import annotations

import base64
import csv
import io
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader.report_data import ClassData, TestStats

__all__ = ["csv_tables", "figures", "html_page", "write_report"]

_WIDTH = 7.5  # inches, at 100 dpi: the page's column is 750 px wide
_BLUE, _RED, _GREY = "#3a6ea5", "#c0392b", "#9aa5b1"


def _png(figure: Any) -> str:
    """A matplotlib figure as a data: URL (the page must open offline)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _counts(values: Sequence[float], top: float) -> tuple[list[float], list[int]]:
    """How many values there are of each score: whole points from 0 to ``top``, and any other value seen."""
    seen = Counter(round(v, 2) for v in values)
    xs = sorted(set(range(int(top) + 1)) | set(seen))
    return [float(x) for x in xs], [seen.get(x, 0) for x in xs]


def _score_figure(data: ClassData) -> str:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    scores = data.scores()
    xs, counts = _counts(scores, data.max_score)
    figure = Figure(figsize=(_WIDTH, 2.8))
    axes = figure.subplots()
    axes.bar(xs, counts, width=0.8 if len(xs) > 1 else 0.5, color=_BLUE)
    summary = data.summary()
    if summary["mean"] is not None:
        axes.axvline(float(summary["mean"]), color=_RED, linestyle="--", linewidth=1.5, zorder=3,
                     label=f"mean {summary['mean']:g}")
        axes.legend(frameon=False, loc="upper left")
    axes.set_xlabel(f"score (out of {data.max_score:g})")
    axes.set_ylabel("students")
    axes.set_xticks(xs)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def _exercise_figure(data: ClassData) -> str:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    count = len(data.exercises)
    columns = min(4, max(1, count))
    rows = (count + columns - 1) // columns
    figure = Figure(figsize=(_WIDTH, 2.1 * rows), layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False)
    for index, axes in enumerate(grid.flat):
        if index >= count:
            axes.set_visible(False)
            continue
        exercise = data.exercises[index]
        xs, counts = _counts([s.exercise_scores.get(exercise.name, 0.0) for s in data.submissions],
                             exercise.max_score)
        axes.bar(xs, counts, width=0.7 if len(xs) > 1 else 0.5, color=_GREY if exercise.manual else _BLUE)
        title = exercise.name + (" (by hand)" if exercise.manual else "")
        axes.set_title(title if len(title) <= 32 else title[:31] + "…", fontsize=9)
        axes.set_xticks(xs)
        axes.tick_params(labelsize=8)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel(f"points (of {exercise.max_score:g})", fontsize=8)
        axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def _pass_rate_figure(tests: Sequence[TestStats]) -> str:
    from matplotlib.figure import Figure

    shown = [t for t in tests if t.pass_rate is not None]
    figure = Figure(figsize=(_WIDTH, 0.6 + 0.28 * max(1, len(shown))))
    axes = figure.subplots()
    rates = [100 * (t.pass_rate or 0.0) for t in shown]
    positions = list(range(len(shown)))[::-1]  # lowest pass rate at the top
    axes.barh(positions, rates, color=[_RED if r < 50 else _BLUE for r in rates], height=0.7)
    axes.set_yticks(positions, [t.key for t in shown], fontsize=8)
    for y, t in zip(positions, shown, strict=True):
        axes.text(100 * (t.pass_rate or 0.0) + 1, y, f"{t.passed}/{t.graded}", va="center", fontsize=8)
    axes.set_xlim(0, 112)
    axes.set_xticks(range(0, 101, 20))
    axes.set_xlabel("students who passed (%)")
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def figures(data: ClassData) -> dict[str, str]:
    """The report's figures, as data: URLs of PNG images."""
    return {"scores": _score_figure(data), "exercises": _exercise_figure(data),
            "pass_rates": _pass_rate_figure(data.tests)}


# --- CSV --------------------------------------------------------------------------------------------------------


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def csv_tables(data: ClassData) -> dict[str, list[list[str]]]:
    """The report's numbers as tables (a header row, then data): students, tests, failures."""
    exercise_names = [e.name for e in data.exercises]
    students = [["student", "score", "max_score", *exercise_names, "tests_passed", "tests_graded", "flagged",
                 "reason", "restarts", "hangs", "caps_hit", "kernel_deaths", "cells_not_run", "grading_seconds",
                 "peak_processes_and_threads", "peak_memory_mb", "to_grade_by_hand", "notes"]]
    for s in data.submissions:
        students.append([s.student, _number(s.score), _number(s.max_score),
                         *(_number(s.exercise_scores.get(name)) for name in exercise_names),
                         str(s.tests_passed), str(s.tests_graded), "yes" if s.flagged else "no", s.reason,
                         str(s.restarts), str(s.hangs), "; ".join(s.caps), str(s.kernel_deaths), str(s.not_run),
                         _number(s.seconds), _number(s.peak_tasks), _number(s.peak_mb), str(s.to_grade_by_hand),
                         " | ".join(s.notes + s.problems)])
    tests = [["test", "exercise", "points", "graded", "passed", "failed", "pass_rate"]]
    for t in data.tests:
        rate = "" if t.pass_rate is None else f"{t.pass_rate:.4f}"
        tests.append([t.key, t.exercise, _number(t.points), str(t.graded), str(t.passed), str(t.failed), rate])
    failures = [["test", "message", "count", "students", "example"]]
    for t in data.tests:
        for group in t.groups:
            failures.append([t.key, group.pattern, str(group.count), " ".join(group.students), group.example])
    return {"students": students, "tests": tests, "failures": failures}


# --- HTML ---------------------------------------------------------------------------------------------------------

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ data.assignment }}: class report</title>
<style>
  body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2733; margin: 0;
         background: #f6f7f9; }
  main { max-width: 1240px; margin: 0 auto; padding: 1.5em 2em 4em; background: #fff; }
  h1 { margin: 0 0 .2em; font-size: 1.6em; }
  h2 { margin: 1.8em 0 .5em; padding-bottom: .2em; border-bottom: 1px solid #dde3ea; font-size: 1.25em; }
  h3 { margin: 1.2em 0 .3em; font-size: 1.05em; }
  .meta { color: #5b6775; margin: 0 0 1em; }
  .cards { display: flex; flex-wrap: wrap; gap: .8em; margin: 1em 0; }
  .card { border: 1px solid #dde3ea; border-radius: 6px; padding: .5em .9em; min-width: 7em; }
  .card b { display: block; font-size: 1.4em; }
  .card span { color: #5b6775; font-size: .85em; }
  table { border-collapse: collapse; width: 100%; margin: .4em 0 1em; font-size: .92em; }
  .wide { overflow-x: auto; }
  .wide table { font-size: .85em; }
  .wide th, .wide td { padding: .3em .45em; }
  th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid #e6eaef; vertical-align: top; }
  th { background: #f0f3f6; font-weight: 600; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
  code, .msg { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .88em; }
  .msg { white-space: pre-wrap; word-break: break-word; }
  .bar { display: inline-block; height: .7em; background: #3a6ea5; vertical-align: middle; margin-right: .4em; }
  .bar.low { background: #c0392b; }
  .flag { color: #a23a12; font-weight: 600; }
  .muted { color: #6b7785; }
  figure { margin: .5em 0 1.2em; }
  figure img { max-width: 100%; height: auto; }
  figcaption { color: #5b6775; font-size: .9em; }
  nav a { margin-right: 1em; }
  details summary { cursor: pointer; color: #3a6ea5; }
</style>
</head>
<body>
<main>
<h1>{{ data.assignment }} — class report</h1>
<p class="meta">Course {{ data.course_id }} · gradebook <code>{{ data.gradebook }}</code>
 · generated {{ data.generated }} · numbers as CSV:
{% for name, file in csv_files.items() %}<a href="{{ file }}">{{ name }}</a>{{ ", " if not loop.last else "" }}
{% endfor %}</p>
<nav><a href="#scores">Scores</a><a href="#tests">Tests</a><a href="#failures">Failures</a>
<a href="#attention">Needs a look</a><a href="#students">Every submission</a></nav>

<div class="cards" id="summary">
  <div class="card"><b>{{ summary.students }}</b><span>submissions graded</span></div>
  <div class="card"><b>{{ fmt(summary.mean) }} / {{ fmt(data.max_score) }}</b><span>mean score</span></div>
  <div class="card"><b>{{ fmt(summary.median) }}</b><span>median score</span></div>
  <div class="card"><b>{{ summary.full_marks }}</b><span>full marks</span></div>
  <div class="card"><b>{{ summary.flagged }}</b><span>flagged for review</span></div>
  <div class="card"><b>{{ summary.need_a_look }}</b><span>need a look</span></div>
  <div class="card"><b>{{ fmt(summary.median_seconds) }} s</b>
    <span>median grading time (slowest {{ fmt(summary.max_seconds) }} s)</span></div>
</div>
{% if data.not_submitted %}<p class="muted">No submission from {{ data.not_submitted|length }} student(s) in the
gradebook: {{ data.not_submitted|join(", ") }}.</p>{% endif %}

<h2 id="scores">Scores</h2>
<figure><img id="figure-scores" src="{{ figures.scores }}" alt="Histogram of the class's total scores">
<figcaption>Total score of each submission (out of {{ fmt(data.max_score) }}), with the class mean.
</figcaption></figure>
<figure><img id="figure-exercises" src="{{ figures.exercises }}" alt="Histogram of scores per exercise">
<figcaption>Points per exercise: how many students earned each score{% if manual %} (grey: graded by hand;
an answer not graded yet counts 0){% endif %}.</figcaption></figure>

<h2 id="tests">Tests, lowest pass rate first</h2>
<figure><img id="figure-pass-rates" src="{{ figures.pass_rates }}" alt="Pass rate of each test">
<figcaption>Share of the graded submissions whose test passed (full marks from the autograder).</figcaption></figure>
<table id="tests-table">
<thead><tr><th>test</th><th>exercise</th><th class="num">points</th><th class="num">passed</th>
<th class="num">pass rate</th><th>most common failure</th></tr></thead>
<tbody>
{% for t in data.tests %}<tr data-test="{{ t.key }}">
<td><code>{{ t.key }}</code></td><td>{{ t.exercise }}</td><td class="num">{{ fmt(t.points) }}</td>
<td class="num">{{ t.passed }} / {{ t.graded }}</td>
<td class="num">{% if t.pass_rate is not none -%}
<span class="bar{{ " low" if t.pass_rate < 0.5 else "" }}" style="width: {{ (t.pass_rate * 60)|round(1) }}px"></span>
{{- (t.pass_rate * 100)|round|int }}%{% else %}–{% endif %}</td>
<td>{% if t.groups %}<span class="msg">{{ t.groups[0].pattern }}</span>
<span class="muted">({{ t.groups[0].count }})</span>{% endif %}</td>
</tr>
{% endfor %}</tbody></table>

<h2 id="failures">Failure messages per test</h2>
<p class="muted">Each test's failures, grouped by their message with the numbers taken out (N), most common first.</p>
{% for t in data.tests if t.groups %}
<h3><code>{{ t.key }}</code> — {{ t.failed }} of {{ t.graded }} failed</h3>
<table class="failures" data-test="{{ t.key }}">
<thead><tr><th>message</th><th class="num">students</th><th>who</th></tr></thead>
<tbody>
{% for g in t.groups %}<tr><td><span class="msg">{{ g.pattern }}</span>{% if g.example != g.pattern %}
<details><summary>example</summary><span class="msg">{{ g.example }}</span></details>{% endif %}</td>
<td class="num">{{ g.count }}</td><td>{{ g.students|join(", ") }}</td></tr>
{% endfor %}</tbody></table>
{% else %}<p>Every test passed for every student.</p>
{% endfor %}

<h2 id="attention">Submissions that need a look</h2>
<p class="muted">Flagged by the grader (the reason is from the submission's Grading notes), kernel restarts, cells
stopped at their time limit, caps the grader enforced (processes, memory, disk, output, total time), cells not run.</p>
{% if attention %}<table id="attention-table">
<thead><tr><th>student</th><th class="num">score</th><th>why</th><th>Grading notes</th></tr></thead>
<tbody>
{% for s, why in attention %}<tr data-student="{{ s.student }}"><td>{{ s.student }}</td>
<td class="num">{{ fmt(s.score) }} / {{ fmt(s.max_score) }}</td>
<td>{% for w in why %}<div{% if loop.first and s.flagged %} class="flag"{% endif %}>{{ w }}</div>{% endfor %}</td>
<td>{% if s.notes %}<details><summary>{{ s.notes|length }} note(s)</summary>
<ul>{% for n in s.notes %}<li>{{ n }}</li>{% endfor %}</ul></details>{% endif %}</td></tr>
{% endfor %}</tbody></table>
{% else %}<p>None: no submission was flagged, restarted, stopped or capped.</p>{% endif %}

<h2 id="students">Every submission</h2>
<div class="wide"><table id="students-table">
<thead><tr><th>student</th><th class="num">score</th>
{% for e in data.exercises %}<th class="num">{{ e.name }}</th>{% endfor %}
<th class="num">tests passed</th><th>flagged</th><th class="num">restarts</th><th class="num">hangs</th>
<th>caps hit</th><th class="num">grading time</th><th class="num">peak processes</th>
<th class="num">peak MB</th></tr></thead>
<tbody>
{% for s in data.submissions %}<tr data-student="{{ s.student }}"><td>{{ s.student }}</td>
<td class="num">{{ fmt(s.score) }} / {{ fmt(s.max_score) }}</td>
{% for e in data.exercises %}<td class="num">{{ fmt(s.exercise_scores.get(e.name)) }}</td>{% endfor %}
<td class="num">{{ s.tests_passed }} / {{ s.tests_graded }}</td><td>{{ "yes" if s.flagged else "" }}</td>
<td class="num">{{ s.restarts or "" }}</td><td class="num">{{ s.hangs or "" }}</td><td>{{ s.caps|join(", ") }}</td>
<td class="num">{{ fmt(s.seconds) }}{{ " s" if s.seconds is not none else "" }}</td>
<td class="num">{{ fmt(s.peak_tasks) }}</td><td class="num">{{ fmt(s.peak_mb) }}</td></tr>
{% endfor %}</tbody></table></div>
</main>
</body>
</html>
"""


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def html_page(data: ClassData, csv_files: dict[str, str], images: dict[str, str] | None = None) -> str:
    """The report as one HTML page; ``csv_files``: table name -> the CSV file's name, linked from the page."""
    import jinja2

    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=False)
    template = environment.from_string(_TEMPLATE)
    attention = [(s, s.attention()) for s in data.submissions if s.attention()]
    attention.sort(key=lambda pair: (not pair[0].flagged, pair[0].student))
    return template.render(data=data, summary=data.summary(), figures=images or figures(data), csv_files=csv_files,
                           attention=attention, manual=any(e.manual for e in data.exercises), fmt=_fmt)


def write_report(data: ClassData, folder: Path) -> list[Path]:
    """Write ``<assignment>.html`` and its CSV files into ``folder``; return their paths, the page first."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    csv_files = {}
    for name, rows in csv_tables(data).items():
        path = folder / f"{data.assignment}.{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as file:
            csv.writer(file).writerows(rows)
        csv_files[name] = path.name
        written.append(path)
    page = folder / f"{data.assignment}.html"
    page.write_text(html_page(data, csv_files), encoding="utf-8")
    return [page, *written]
