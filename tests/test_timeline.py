"""course.timeline: spans from threads, coroutines and child processes on one clock; overlap
and busy time on hand-made spans; the figure's lanes and bars; an import without side effects."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import multiprocessing
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import pytest

from course import workers
from course.plots import timeline_figure
from course.timeline import Span, Timeline


def made(*spans: tuple[str, float, float]) -> Timeline:
    """A timeline whose spans start at the given seconds after its origin."""
    timeline = Timeline()
    for n, (stage, start, end) in enumerate(spans):
        timeline.add(stage, f"#{n}", timeline.origin + start, timeline.origin + end)
    return timeline


# -- recording ------------------------------------------------------------------------------


def test_span_times_its_block_and_records_on_error():
    timeline = Timeline()
    with timeline.span("sleep", "short"):
        time.sleep(0.05)
    with pytest.raises(KeyError), timeline.span("fail", "raises"):
        raise KeyError("x")
    first, second = timeline.spans
    assert (first.stage, first.label) == ("sleep", "short")
    assert 0.04 <= first.seconds < 5.0  # the sleep's 0.05 s; generous above for a busy machine
    assert timeline.origin <= first.start < first.end <= second.start <= second.end
    assert second.stage == "fail"
    assert timeline.stages == ["sleep", "fail"]
    relative = timeline.relative_spans[0]
    assert relative.start == pytest.approx(first.start - timeline.origin)
    assert 0 <= relative.start < relative.end == pytest.approx(timeline.elapsed() - (second.end - first.end))


def test_add_checks_its_arguments():
    timeline = Timeline()
    with pytest.raises(ValueError, match="end at or after"):
        timeline.add("count", "backwards", 2.0, 1.0)
    with pytest.raises(TypeError, match="stage"):
        timeline.add("", "no stage", 1.0, 2.0)
    assert timeline.add("count", "ok", 1.0, 1.0) == Span("count", "ok", 1.0, 1.0)
    assert len(timeline) == 1


def test_spans_from_many_threads_are_all_kept_in_start_order():
    timeline = Timeline()
    barrier = threading.Barrier(8)

    def record(n: int) -> None:
        barrier.wait(timeout=10)
        for i in range(200):
            with timeline.span("work", f"{n}.{i}", worker=n):
                pass

    threads = [threading.Thread(target=record, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    spans = timeline.spans
    assert len(spans) == 8 * 200
    assert len({span.label for span in spans}) == 8 * 200
    assert [span.start for span in spans] == sorted(span.start for span in spans)


def test_spans_inside_coroutines_cover_their_awaits():
    timeline = Timeline()

    async def wait(n: int) -> None:
        with timeline.span("wait", str(n)):
            await asyncio.sleep(0.2)

    async def main() -> None:
        await asyncio.gather(*(wait(n) for n in range(5)))

    asyncio.run(main())
    assert len(timeline) == 5
    assert all(span.seconds >= 0.19 for span in timeline.spans)
    # Five waits at once in one thread: together they took about one wait (0.2 s), less
    # than the 1 s of five one after the other (generous for a busy machine).
    assert timeline.busy("wait") < 0.2 * 5 - 0.15, timeline.busy("wait")


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_child_process_span_lies_inside_the_parents_window(method):
    """perf_counter is one clock for the machine: a span measured in a pool worker (a fresh
    interpreter under spawn) falls between the parent's submit and its result."""
    timeline = Timeline()
    text = "word " * 200_000
    with cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(method)) as pool:
        pool.submit(workers.square, 1).result(timeout=60)  # the worker is running
        for n in range(3):
            with timeline.span("parent", str(n)):
                count, start, end = pool.submit(workers.timed_count_words, text).result(timeout=60)
            timeline.add("count", str(n), start, end)
            assert count == 200_000
    parents = [span for span in timeline.spans if span.stage == "parent"]
    children = [span for span in timeline.spans if span.stage == "count"]
    for parent, child in zip(parents, children, strict=True):
        assert parent.start < child.start <= child.end < parent.end, (parent, child)
    assert timeline.overlap("parent", "count") == pytest.approx(sum(child.seconds for child in children))


def test_timed_count_words_counts_as_count_words():
    count, start, end = workers.timed_count_words(b"one two\nthree")
    assert count == workers.count_words(b"one two\nthree") == 3
    assert start <= end <= time.perf_counter()
    with pytest.raises(TypeError):
        workers.timed_count_words(3)  # type: ignore[arg-type]


# -- busy time and overlap on hand-made spans -----------------------------------------------


def test_overlap_of_stages_one_after_the_other_is_zero():
    timeline = made(("download", 0, 1), ("download", 1, 2), ("count", 2, 3), ("count", 3.5, 4))
    assert timeline.overlap("download", "count") == 0
    assert timeline.busy("download") == pytest.approx(2)
    assert timeline.busy("count") == pytest.approx(1.5)
    assert timeline.elapsed() == pytest.approx(4)


def test_overlap_counts_each_moment_once():
    # Downloads overlap each other (0-2 and 1-3: busy 0-3) and two counts overlap each other
    # (2.5-4 and 2.5-3.5): both stages ran from 2.5 to 3, and again from 5 to 5.5.
    timeline = made(
        ("download", 0, 2), ("download", 1, 3), ("count", 2.5, 4), ("count", 2.5, 3.5),
        ("download", 5, 6), ("count", 4.5, 5.5), ("other", 0, 10),
    )
    assert timeline.overlap("download", "count") == pytest.approx(1.0)
    assert timeline.overlap("count", "download") == pytest.approx(1.0)
    assert timeline.busy("download") == pytest.approx(4)
    assert timeline.busy("count") == pytest.approx(2.5)
    assert timeline.overlap("other", "download") == pytest.approx(4)
    assert timeline.overlap("download", "missing") == 0
    assert timeline.stages == ["download", "other", "count"]


def test_overlap_of_a_pipeline():
    # Each count starts as its download ends, while the next download runs.
    timeline = made(*[("download", n, n + 1) for n in range(4)], *[("count", n + 1, n + 1.5) for n in range(4)])
    assert timeline.overlap("download", "count") == pytest.approx(1.5)


# -- the figure ----------------------------------------------------------------------------


def test_figure_has_a_lane_per_stage_and_a_bar_per_span():
    timeline = made(("download", 0, 1), ("download", 0.5, 1.5), ("count", 1, 2), ("count", 1.5, 2.5),
                    ("download", 2, 3))
    figure = timeline_figure(timeline, title="a pipeline")
    (axes,) = figure.axes
    assert axes.get_title() == "a pipeline"
    assert [tick.get_text() for tick in axes.get_yticklabels()] == ["download", "count"]
    assert [container.get_label() for container in axes.containers] == ["download", "count"]
    download, count = axes.containers
    assert len(download) == 3 and len(count) == 2
    assert len(axes.patches) == 5
    # Bars sit where their spans ran, x in seconds since the timeline was made.
    edges = sorted((bar.get_x(), bar.get_x() + bar.get_width()) for bar in download)
    assert [edge for pair in edges for edge in pair] == pytest.approx([0, 1, 0.5, 1.5, 2, 3])
    # Two downloads ran at once: they share the lane in two rows instead of covering each other.
    first, second, third = download
    assert first.get_y() != second.get_y()
    assert first.get_y() == third.get_y()
    lane_of = {0: (-0.5, 0.5), 1: (0.5, 1.5)}
    for lane, container in enumerate(axes.containers):
        low, high = lane_of[lane]
        assert all(low <= bar.get_y() and bar.get_y() + bar.get_height() <= high for bar in container)
    assert sorted(text.get_text() for text in axes.texts) == ["#0", "#1", "#2", "#3", "#4"]
    assert axes.get_xlabel().startswith("seconds")
    assert figure.get_figwidth() <= 12 and figure.get_figheight() <= 8


def test_figure_gives_each_worker_its_own_lane_and_titles_itself():
    timeline = Timeline()
    for n, worker in enumerate([101, 102, 101]):
        timeline.add("count", f"body {n}", timeline.origin + n, timeline.origin + n + 0.5, worker=worker)
    timeline.add("download", "page", timeline.origin + 0.1, timeline.origin + 0.2)
    figure = timeline_figure(timeline)
    (axes,) = figure.axes
    assert [tick.get_text() for tick in axes.get_yticklabels()] == ["count\n101", "count\n102", "download"]
    assert [len(container) for container in axes.containers] == [2, 1, 1]
    assert "count busy 1.50 s" in axes.get_title()


def test_figure_of_many_spans_and_of_none():
    timeline = made(*[("download", n / 100, 1 + n / 100) for n in range(300)])
    (axes,) = timeline_figure(timeline).axes
    assert len(axes.patches) == 300
    assert not axes.texts  # too many to label
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a notebook cell would show a warning
        (empty,) = timeline_figure(Timeline()).axes
    assert not empty.patches
    assert empty.get_title() == "no spans yet"


# -- importing ------------------------------------------------------------------------------


def test_import_has_no_side_effects():
    probe = textwrap.dedent("""
        import sys, threading
        import course.timeline
        timeline = course.timeline.Timeline()
        assert threading.active_count() == 1, threading.enumerate()
        assert "matplotlib" not in sys.modules, "course.timeline imported matplotlib"
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
    assert result.stderr == ""
