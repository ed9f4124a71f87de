"""Figures of what a sweep measured."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from course.sweep import WORKLOADS, Measurements

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn, not when this module is
    from matplotlib.figure import Figure

    from course.timeline import Span, Timeline

__all__ = ["measurements_figure", "png_bytes", "timeline_figure"]


def measurements_figure(measurements: Measurements) -> Figure:
    """Three panels: wall time against workers; speed-up against workers with the ideal
    line; and a timeline of which worker ran which task when, for the most workers (for
    CPU-bound tasks, solid where the task was running and pale where it waited).

    Made with ``matplotlib.figure.Figure`` rather than ``pyplot``: pyplot keeps global state
    (the current figure, the backend), and the explorer draws from a background thread.
    """
    from matplotlib.figure import Figure

    settings = measurements.settings
    points = measurements.points
    cpus = measurements.usable_cpus
    figure = Figure(figsize=(12, 3.8), layout="constrained")
    time_axes, speedup_axes, timeline_axes = figure.subplots(1, 3, width_ratios=(1, 1, 1.4))
    method = f" ({measurements.start_method})" if settings.executor == "processes" else ""
    figure.suptitle(
        f"{settings.tasks} tasks ({WORKLOADS[settings.workload]}) on {settings.executor}{method}; "
        f"this process may use {cpus} CPU{'s' if cpus != 1 else ''}"
    )
    workers = [point.workers for point in points]

    time_axes.plot(workers, [point.seconds for point in points], "o-")
    time_axes.set(title="wall time", xlabel="workers", ylabel="seconds", ylim=(0, None))

    speedup_axes.plot(workers, [point.speedup for point in points], "o-", label="measured")
    if workers:
        speedup_axes.plot([1, workers[-1]], [1, workers[-1]], "--", color="gray", label="ideal: one per worker")
    speedup_axes.axvline(cpus, linestyle=":", color="tab:red", label=f"usable CPUs ({cpus})")
    speedup_axes.set(title="speed-up over one worker", xlabel="workers", ylabel="speed-up", ylim=(0, None))
    speedup_axes.legend(loc="upper left", fontsize="small")
    for axes in (time_axes, speedup_axes):
        axes.set_xticks(workers)

    records = measurements.timeline
    colors = [f"C{n % 10}" for n in range(len(records))]
    for record, color in zip(records, colors, strict=True):
        lane = (record.worker - 0.4, 0.8)
        if record.running:
            # A CPU-bound task: its whole span pale, and solid only where it actually ran,
            # so threads that take turns on one GIL show as alternating stripes.
            timeline_axes.broken_barh([(record.start, record.end - record.start)], lane, color=color, alpha=0.25)
            timeline_axes.broken_barh([(a, b - a) for a, b in record.running], lane, color=color)
        else:
            timeline_axes.broken_barh([(record.start, record.end - record.start)], lane, color=color)
        if len(records) <= 32:  # numbered, so a task's wait for a free worker can be followed
            middle = (record.start + record.end) / 2
            timeline_axes.text(middle, record.worker, str(record.task), ha="center", va="center", color="white",
                               fontsize="small")
    lanes = max((record.worker for record in records), default=-1) + 1
    timeline_axes.set_yticks(range(lanes))
    timeline_axes.set(
        title=f"who ran what when, with {measurements.runs[-1].workers if measurements.runs else 0} workers",
        xlabel="seconds since the batch was submitted",
        ylabel="worker",
        xlim=(0, None),
    )
    timeline_axes.invert_yaxis()
    if measurements.stopped:
        figure.text(0.5, 0.01, f"stopped early: {measurements.stopped}", ha="center", color="tab:red")
    return figure


# Bars are labelled with their span's label up to this many spans; beyond it, text would
# only cover the bars.
_LABELLED_SPANS = 40


def timeline_figure(timeline: Timeline, title: str | None = None) -> Figure:
    """What ran when: one lane per stage (per stage and worker, for spans that name their
    worker), a bar per span labelled with its label, x in seconds since the timeline was made.

    Spans of one lane that ran at the same time (20 downloads in flight) are stacked in
    thin rows inside the lane rather than drawn over each other, so a lane as tall as it is
    full shows how many were in flight. Each lane is one ``BarContainer`` labelled with the
    lane's name (``axes.containers``), each bar one ``Rectangle`` (``axes.patches``).
    """
    from matplotlib.figure import Figure

    spans = timeline.relative_spans
    lanes: dict[tuple[str, str | int | None], list[Span]] = {}
    for span in spans:  # lanes in the order their stage first ran, then their worker's
        lanes.setdefault((span.stage, span.worker), [])
    order = {stage: n for n, stage in enumerate(dict.fromkeys(span.stage for span in spans))}
    keys = sorted(lanes, key=lambda key: (order[key[0]], list(lanes).index(key)))
    for span in spans:
        lanes[(span.stage, span.worker)].append(span)

    figure = Figure(figsize=(10, 1.2 + 0.55 * max(len(keys), 1)), layout="constrained")
    axes = figure.subplots()
    labelled = len(spans) <= _LABELLED_SPANS
    for lane, key in enumerate(keys):
        stage, worker = key
        rows = _rows(lanes[key])
        height = 0.8 / max(rows.values(), default=0)
        lane_spans = lanes[key]
        bottoms = [lane - 0.4 + height * (rows[id(span)] - 1) for span in lane_spans]
        name = stage if worker is None else f"{stage} ({worker})"
        axes.barh(
            [bottom + height / 2 for bottom in bottoms], [span.seconds for span in lane_spans],
            left=[span.start for span in lane_spans], height=height * 0.9, label=name,
            color=f"C{order[stage] % 10}", edgecolor="white",
            linewidth=0.5 if height > 0.04 else 0,  # an edge would hide a bar of many rows
        )
        if labelled:
            for span, bottom in zip(lane_spans, bottoms, strict=True):
                axes.text((span.start + span.end) / 2, bottom + height / 2, span.label, ha="center", va="center",
                          color="white", fontsize="x-small", clip_on=True)
    axes.set_yticks(range(len(keys)), [key[0] if key[1] is None else f"{key[0]}\n{key[1]}" for key in keys])
    axes.set_ylim(max(len(keys), 1) - 0.5, -0.5)  # the first lane on top
    axes.set(xlabel="seconds since the timeline was made", xlim=(0, None))
    axes.grid(axis="x", alpha=0.3)
    busy = ", ".join(f"{stage} busy {timeline.busy(stage):.2f} s" for stage in order)
    axes.set_title(title if title is not None else f"what ran when: {busy}" if spans else "no spans yet")
    return figure


def _rows(spans: list[Span]) -> dict[int, int]:
    """Give each span a row from 1 up, the lowest not taken by a span still running when it
    starts (spans come in start order); return {id(span): row}."""
    ends: list[float] = []  # ends[r - 1]: when row r becomes free
    rows: dict[int, int] = {}
    for span in spans:
        free = next((n for n, end in enumerate(ends) if end <= span.start), len(ends))
        if free == len(ends):
            ends.append(span.end)
        else:
            ends[free] = span.end
        rows[id(span)] = free + 1
    return rows


def png_bytes(figure: Figure) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()
