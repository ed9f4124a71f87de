"""The worker-count explorer: drag the workers slider, press Run, see the speed-up."""

from __future__ import annotations

import dataclasses
import threading
from typing import TYPE_CHECKING, Any

from course.cpus import usable_cpu_count
from course.plots import measurements_figure, png_bytes
from course.sweep import EXECUTORS, WORKLOADS, Measurements, Settings, sweep, worker_counts

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["WorkerExplorer"]

_WORKLOAD_LABELS = {
    "cpu": "CPU-bound (pure Python)",
    "io": "IO-bound (sleep)",
    "hashlib": "C code without the GIL (hashlib)",
    "download": "IO-bound (HTTP downloads)",
}


class WorkerExplorer:
    """Controls to measure a batch of tasks against the number of workers that run it.

    Show it as a cell's last expression. Pick an executor (processes or threads), a
    workload (CPU-bound, IO-bound sleeps or downloads, or C code that releases the GIL), the number of tasks
    and the most workers to try, then press Run: it measures the batch with 1, 2, ... up to
    that many workers and draws wall time, speed-up with the ideal line, and a timeline of
    which worker ran which task when. Run works in the background, so the kernel stays
    free, and Stop (or ``time_limit``) ends it within one task's time.

    The same in code, without a browser::

        explorer = WorkerExplorer(workload="cpu", executor="processes", workers=4)
        result = explorer.run()      # blocks until measured
        print(result)                # the table; result.speedup(2), result.points, ...
        explorer.show_figure()       # the figure, as a static image
    """

    def __init__(
        self,
        workload: str = "cpu",
        executor: str = "processes",
        workers: int | None = None,
        tasks: int = 8,
        *,
        task_seconds: float = 0.05,
        start_method: str | None = None,
        time_limit: float = 60.0,
    ) -> None:
        import ipywidgets as widgets  # type: ignore[import-untyped]  # here, not at import: course stays light

        self.usable_cpus = usable_cpu_count()
        most = min(64, max(8, 4 * self.usable_cpus))  # room to oversubscribe, as IO-bound work likes
        if workers is None:
            workers = self.usable_cpus
        # Validates every argument, with a message that says how to fix it.
        self._settings = Settings(workload, executor, workers, tasks, task_seconds, start_method, time_limit)
        if workers > most:
            raise ValueError(f"workers={workers} is more than the slider's {most}: use at most {most}")

        style = {"description_width": "initial"}
        self.workers_slider = widgets.IntSlider(value=workers, min=1, max=most, description="workers (most):",
                                                style=style)
        self.tasks_slider = widgets.IntSlider(value=tasks, min=1, max=64, description="tasks:", style=style)
        self.executor_buttons = widgets.ToggleButtons(options=list(EXECUTORS), value=executor, description="executor:",
                                                      style=style)
        self.workload_dropdown = widgets.Dropdown(
            options=[(_WORKLOAD_LABELS[key], key) for key in WORKLOADS], value=workload, description="workload:",
            style=style,
        )
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True)
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="progress:", style=style)
        self.status = widgets.HTML(value=self._idle_text())
        # Hidden until the first run draws a figure: an empty image shows as a broken icon.
        self.image = widgets.Image(format="png", layout=widgets.Layout(display="none"))
        self.run_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.executor_buttons, self.workload_dropdown]),
                widgets.HBox([self.workers_slider, self.tasks_slider]),
                widgets.HBox([self.run_button, self.stop_button, self.progress]),
                self.status,
                self.image,
            ]
        )

        self.measurements: Measurements | None = None
        self.figure: Figure | None = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the controls' values, for code ---------------------------------------------------

    @property
    def workers(self) -> int:
        """The most workers to try: the workers slider."""
        return int(self.workers_slider.value)

    @workers.setter
    def workers(self, value: int) -> None:
        self._set(self.workers_slider, value)

    @property
    def tasks(self) -> int:
        """The number of tasks in the batch: the tasks slider."""
        return int(self.tasks_slider.value)

    @tasks.setter
    def tasks(self, value: int) -> None:
        self._set(self.tasks_slider, value)

    @property
    def executor(self) -> str:
        """``"processes"`` or ``"threads"``."""
        return str(self.executor_buttons.value)

    @executor.setter
    def executor(self, value: str) -> None:
        Settings(executor=value)  # validates
        self.executor_buttons.value = value

    @property
    def workload(self) -> str:
        """``"cpu"``, ``"io"`` or ``"hashlib"``."""
        return str(self.workload_dropdown.value)

    @workload.setter
    def workload(self, value: str) -> None:
        Settings(workload=value)  # validates
        self.workload_dropdown.value = value

    @staticmethod
    def _set(slider: Any, value: int) -> None:
        # A slider silently clamps a value outside its range; say so instead.
        if not isinstance(value, int) or not slider.min <= value <= slider.max:
            raise ValueError(f"{slider.description.rstrip(':')} must be a whole number "
                             f"from {slider.min} to {slider.max}, not {value!r}")
        slider.value = value

    # --- running ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether a run started with ``start()`` or the Run button is still going."""
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> Measurements:
        """Measure now, in this thread, and return the measurements (also kept in
        ``measurements``, with the figure in ``figure`` and the widget's image).

        The kernel is busy meanwhile, so Stop cannot be clicked: the time limit bounds the
        run, and Kernel → Interrupt ends it early.
        """
        if self.running:
            raise RuntimeError("a run is already going: call .wait() or .stop() first")
        self._stop.clear()
        self._measure()
        if self.error is not None:
            raise self.error
        assert self.measurements is not None
        return self.measurements

    def start(self) -> None:
        """Measure in a background thread, as the Run button does; ``wait()`` for it."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._measure, name="worker-count explorer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask a background run to stop; it ends within about one task's time."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> Measurements | None:
        """Wait for a background run; return its measurements (``None`` if still running)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return None if self.running else self.measurements

    def show_figure(self) -> None:
        """Display the last figure as a static image (it stays in the saved notebook)."""
        from IPython.display import Image, display

        if self.figure is None:
            raise RuntimeError("nothing measured yet: press Run or call .run() first")
        # The image widget already holds this figure's PNG: drawing it again costs a CPU
        # fifth of a second, which a graded notebook's time budget feels.
        display(Image(bytes(self.image.value) or png_bytes(self.figure)))

    def _measure(self) -> None:
        # The controls' current values; the rest as given to __init__. replace() validates again.
        settings = dataclasses.replace(
            self._settings, workload=self.workload, executor=self.executor, workers=self.workers, tasks=self.tasks
        )
        self.error = None
        self.run_button.disabled, self.stop_button.disabled = True, False
        self.progress.value, self.progress.max = 0, settings.tasks * len(worker_counts(settings.workers))
        self.status.value = f"measuring 1 to {settings.workers} {settings.executor} ..."
        try:
            measurements = sweep(settings, stop=self._stop, progress=self._progress)
            self.measurements = measurements
            self.figure = measurements_figure(measurements)
            self.image.value = png_bytes(self.figure)
            self.image.layout.display = ""
            self.status.value = self._result_text(measurements)
        except BaseException as error:  # a background thread has nowhere else to report
            self.error = error
            self.status.value = f"<b>the run failed:</b> {type(error).__name__}: {error}"
            if isinstance(error, KeyboardInterrupt):
                raise
        finally:
            self.run_button.disabled, self.stop_button.disabled = False, True

    def _progress(self, done: int, total: int) -> None:
        self.progress.value = done

    def _idle_text(self) -> str:
        return f"This process may use <b>{self.usable_cpus}</b> CPUs. Press Run to measure."

    def _result_text(self, measurements: Measurements) -> str:
        best = max(measurements.points, key=lambda point: point.speedup, default=None)
        text = f"This process may use <b>{self.usable_cpus}</b> CPUs."
        if best is not None:
            text += f" Best: <b>{best.speedup:.2f}x</b> with {best.workers} workers ({best.seconds:.2f} s)."
        if measurements.stopped:
            text += f" <b>Stopped early:</b> {measurements.stopped}."
        return text

    # --- display --------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
