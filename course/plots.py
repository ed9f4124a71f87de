"""Figures of what a sweep measured."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from course.sweep import WORKLOADS, Measurements

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn, not when this module is
    from matplotlib.figure import Figure

__all__ = ["measurements_figure", "png_bytes"]


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


def png_bytes(figure: Figure) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()
