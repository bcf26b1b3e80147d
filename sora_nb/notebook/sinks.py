"""Where a run's events are drawn: a job's status line and streamed chat text, in a cell or in
the panel, updated in place at a bounded rate.

One throttle core (:class:`Throttle`: a time gap, plus a cap on the bytes sent through growth)
serves every sink. A sink is a listener of run events (``sora_nb.events``) and draws on a
*surface*: a cell's display id (widget, HTML or terminal line) or the panel's widgets.

Each cell sink displays itself once, in the cell that creates it, and is only updated afterwards
(so output never lands in another cell). When the work ends it returns to the empty output it
started as, and the cell's result is shown as a new, deterministic output: nbval compares the
first display of each output and ignores updates, so live views never make a saved notebook
differ from a fresh run.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from .._exceptions import PollTimeout
from ..events import Failed, Finished, Progressed, RunEvent, Saved, Submitted, Text
from ..models import Job
from ..polling import PollSchedule
from . import render

Clock = Callable[[], float]
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
Bundle = dict[str, Any]

__all__ = [
    "JobProgress",
    "LiveMarkdown",
    "PanelStatus",
    "StatusSink",
    "StatusView",
    "Throttle",
    "pick_mode",
    "ticking",
]


def in_kernel() -> bool:
    """Whether a Jupyter kernel (and so a front end that takes display updates) is there."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def pick_mode(preference: str = "auto") -> str:
    if preference in ("widget", "html", "text"):
        return preference
    if not in_kernel():
        return "text"
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return "html"
    return "widget"


class Throttle:
    """When to send the next update of something shown live.

    An update is due when ``min_gap`` seconds have passed since the last one and either its
    content grew by ``growth`` (a fraction of what was last sent: this caps the bytes sent for a
    text that keeps growing to ``1 + 1/growth`` times its final size) or ``max_gap`` seconds have
    passed. ``urgent`` updates (a new status) are due at once. The first update is always due.
    """

    def __init__(
        self,
        min_gap: float,
        *,
        growth: float = 0.0,
        max_gap: float | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.min_gap, self.growth, self.max_gap = min_gap, growth, max_gap
        self.clock = clock
        self.last = float("-inf")
        self.sent_size = 0
        self.updates = 0

    def due(self, size: int = 0, *, urgent: bool = False) -> bool:
        if self.updates == 0 or urgent:
            return True
        gap = self.clock() - self.last
        if gap < self.min_gap:
            return False
        if self.growth <= 0:
            return True
        if size - self.sent_size >= self.growth * self.sent_size:
            return True
        return self.max_gap is not None and gap >= self.max_gap

    def sent(self, size: int = 0) -> None:
        self.last, self.sent_size = self.clock(), size
        self.updates += 1


class _Display:
    """A display id, and a count of the messages and bytes sent through it."""

    def __init__(self) -> None:
        self.display_id = f"sora-nb-{uuid.uuid4().hex}"
        self.messages = 0
        self.bytes = 0

    def show(self, bundle: Bundle) -> None:
        from IPython.display import display

        display(bundle, raw=True, display_id=self.display_id)
        self._count(bundle)

    def replace(self, bundle: Bundle) -> None:
        from IPython.display import update_display

        update_display(bundle, raw=True, display_id=self.display_id)
        self._count(bundle)

    def _count(self, bundle: Bundle) -> None:
        self.messages += 1
        self.bytes += sum(len(str(v).encode()) for v in bundle.values())


class JobProgress:
    """What a live status knows about one job: status, percent, elapsed, time left, a detail.

    Shared by the cell's status line and the panel's progress bar.
    """

    def __init__(self, label: str, clock: Clock = time.monotonic) -> None:
        self.label = label
        self._clock = clock
        self._start = clock()
        self._eta = PollSchedule(min_interval=0.1)
        self.status = "submitting"
        self.progress: float | None = None
        self.detail: str | None = None
        self.job: Job | None = None

    def apply(
        self, job: Job | None = None, *, status: str | None = None, detail: str | None = None
    ) -> None:
        if job is not None:
            self.job = job
            self.status = job.status
            if job.progress is not None:
                self.progress = job.progress
                self._eta.observe(self._clock(), job.progress)
        if status is not None:
            self.status = status
        if detail is not None:
            self.detail = detail or None

    def elapsed(self) -> float:
        return self._clock() - self._start

    def remaining(self) -> float | None:
        return self._eta.eta(self._clock())

    def text(self) -> str:
        line = render.status_text(
            self.label, self.status, self.progress, self.elapsed(), self.remaining()
        )
        return f"{line} · {self.detail}" if self.detail else line

    def bundle(self) -> dict[str, str]:
        return render.status_bundle(
            self.label, self.status, self.progress, self.elapsed(), self.remaining(), self.detail
        )

    def key(self) -> tuple[Any, ...]:
        """What a viewer would see change, at the resolution shown (whole seconds, percent)."""
        remaining = self.remaining()
        return (
            self.status,
            None if self.progress is None else round(self.progress),
            int(self.elapsed()),
            None if remaining is None else int(remaining),
            self.detail,
        )

    @property
    def bar_style(self) -> str:
        return {"completed": "success", "failed": "danger", "cancelled": "warning"}.get(
            self.status, "info"
        )


class StatusSink(Protocol):
    """What the notebook layer asks of a job's live status, in a cell or in the panel."""

    state: JobProgress

    def __call__(self, event: RunEvent) -> None: ...
    def update(
        self, job: Job | None = None, *, status: str | None = None, detail: str | None = None
    ) -> None: ...
    def tick(self) -> None: ...
    def close(self) -> None: ...
    def show_instead(self, bundle: Bundle) -> None: ...


class _StatusBase:
    """A status sink: run events in, a throttled drawing out. Subclasses draw."""

    def __init__(self, label: str, *, rate: float, clock: Clock, fetching: bool) -> None:
        self.state = JobProgress(label, clock)
        self.throttle = Throttle(1.0 / rate if rate > 0 else 0.0, clock=clock)
        self.fetching = fetching  # a download follows completion: say so while it runs
        self.closed = False
        self._last_key: tuple[Any, ...] | None = None

    @property
    def status(self) -> str:
        return self.state.status

    @property
    def progress(self) -> float | None:
        return self.state.progress

    @property
    def job(self) -> Job | None:
        return self.state.job

    def __call__(self, event: RunEvent) -> None:
        """Listen to a run: every event that says something about the job is drawn."""
        if isinstance(event, Submitted | Progressed):
            self.update(event.job)
        elif isinstance(event, Finished):
            self.update(event.job, detail="downloading" if self.fetching else "")
        elif isinstance(event, Saved):
            self.update(event.job, detail="")
        elif isinstance(event, Failed):
            if event.job is not None and event.job.id:
                self.state.apply(event.job)
            self.update(status="timed out" if _timed_out(event) else "failed")
        elif isinstance(event, Text) and event.job is not None and event.job.status != "failed":
            self.update(event.job)

    def update(
        self, job: Job | None = None, *, status: str | None = None, detail: str | None = None
    ) -> None:
        """New information; drawn now if the status changed or enough time has passed."""
        self.state.apply(job, status=status, detail=detail)
        self._render()

    def tick(self) -> None:
        """Called about once a second, so elapsed and time left move between polls."""
        self._render()

    def _render(self, force: bool = False) -> None:
        if self.closed:
            return
        key = self.state.key()
        if not force:
            if key == self._last_key:
                return
            # A new status or detail ("downloading", "deleted") is news: drawn at once.
            last = self._last_key
            urgent = last is None or key[0] != last[0] or key[-1] != last[-1]
            if not self.throttle.due(urgent=urgent):
                return
        self._last_key = key
        self.throttle.sent()
        self._draw()

    def _draw(self) -> None:  # pragma: no cover - every subclass draws
        raise NotImplementedError

    def close(self) -> None:
        self.closed = True

    def show_instead(self, bundle: Bundle) -> None:
        self.closed = True


def _timed_out(event: Failed) -> bool:
    return isinstance(event.error, PollTimeout)


class StatusView(_StatusBase):
    """One live line for one job, in the cell that made it.

    Modes: ``widget`` (an ipywidgets progress bar, for front ends that render widgets), ``html``
    (a ``<progress>`` line updated through display ids, for any Jupyter front end), ``text`` (a
    carriage-return line, for terminal IPython).
    """

    def __init__(
        self,
        label: str,
        *,
        mode: str = "auto",
        rate: float = 4.0,
        clock: Clock = time.monotonic,
        fetching: bool = True,
    ) -> None:
        super().__init__(label, rate=rate, clock=clock, fetching=fetching)
        self.mode = pick_mode(mode)
        self._display = _Display()
        self._widgets: Any = None
        self._text_messages = 0
        if self.mode == "widget":
            import ipywidgets as w

            bar = w.FloatProgress(value=0.0, min=0.0, max=100.0, layout=w.Layout(width="14em"))
            label_widget = w.HTML(value="")
            self._widgets = (w.HBox([bar, label_widget]), bar, label_widget)
            bundle = dict(render.EMPTY)
            bundle["application/vnd.jupyter.widget-view+json"] = {
                "version_major": 2,
                "version_minor": 0,
                "model_id": self._widgets[0].model_id,
            }
            self._display.show(bundle)
        elif self.mode == "html":
            self._display.show(dict(render.EMPTY))
        self._render(force=True)

    @property
    def messages(self) -> int:
        """Messages sent to the front end so far (display updates or widget syncs)."""
        return self._display.messages + self._text_messages

    def _draw(self) -> None:
        if self.mode == "text":
            sys.stdout.write("\r" + self.state.text().ljust(78))
            sys.stdout.flush()
            self._text_messages += 1
        elif self.mode == "widget":
            _, bar, label = self._widgets
            with bar.hold_sync(), label.hold_sync():
                bar.value = float(self.state.progress or 0.0)
                bar.bar_style = self.state.bar_style
                label.value = f"<span>{html.escape(self.state.text())}</span>"
            self._text_messages += 1
        else:
            self._display.replace(self.state.bundle())

    def close(self, final_line: str | None = None) -> None:
        """Return the output to the empty state it started in (see the module docstring)."""
        if self.closed:
            return
        self._render(force=True)
        self.closed = True
        if self.mode == "text":
            sys.stdout.write("\r" + (final_line or "").ljust(78) + "\n" if final_line else "\n")
            sys.stdout.flush()
            return
        self._display.replace(dict(render.EMPTY))
        self._close_widgets()

    def show_instead(self, bundle: Bundle) -> None:
        """Replace the status with a final bundle (background jobs, whose cell has finished)."""
        self.closed = True
        if self.mode == "text":
            sys.stdout.write("\n" + str(bundle.get("text/plain", "")) + "\n")
            return
        self._display.replace(bundle)
        self._close_widgets()

    def _close_widgets(self) -> None:
        if self._widgets is not None:
            for widget in self._widgets:
                widget.close()


class PanelStatus(_StatusBase):
    """The panel's progress bar and status line, fed like a cell's StatusView."""

    def __init__(
        self,
        bar: Any,
        label: Any,
        *,
        name: str = "",
        rate: float = 4.0,
        clock: Clock = time.monotonic,
        fetching: bool = True,
    ) -> None:
        super().__init__(name, rate=rate, clock=clock, fetching=fetching)
        self.bar, self.label = bar, label
        self._render(force=True)

    def _draw(self) -> None:
        with self.bar.hold_sync():
            self.bar.value = float(self.state.progress or 0.0)
            self.bar.bar_style = self.state.bar_style
        self.label.value = html.escape(self.state.text())

    def close(self) -> None:
        self._render(force=True)
        self.closed = True

    def show_instead(self, bundle: Bundle) -> None:
        self._render(force=True)
        self.closed = True


@contextlib.asynccontextmanager
async def ticking(sink: StatusSink, every: float = 1.0) -> AsyncIterator[None]:
    """Re-draw ``sink`` about once a second so elapsed time moves between polls."""

    async def tick() -> None:
        while True:
            await asyncio.sleep(every)
            sink.tick()

    task = asyncio.get_running_loop().create_task(tick())
    try:
        yield
    finally:
        task.cancel()


class LiveMarkdown:
    """Streamed text rendered in place as Markdown, at a bounded rate and a bounded volume.

    Text arrives as deltas (:meth:`append`). An update carries the whole text so far (Markdown
    only: the final result carries the plain text), sent when the :class:`Throttle` says so:
    at least ``min_gap`` seconds apart, once the text has grown by ``growth`` (20%) since the
    last one or ``max_gap`` seconds have passed. So the bytes sent stay within
    ``1 + 1/growth`` = 6 times the final text, plus one update per ``max_gap`` for slow streams.
    The first text is sent at once.

    ``output``: an ipywidgets ``Output`` to draw into (the panel) instead of the cell.
    """

    def __init__(
        self,
        *,
        mode: str = "auto",
        min_gap: float = 0.1,
        max_gap: float = 2.0,
        growth: float = 0.2,
        clock: Clock = time.monotonic,
        output: Any = None,
    ) -> None:
        self.output = output
        self.mode = "html" if output is not None or pick_mode(mode) != "text" else "text"
        self.throttle = Throttle(min_gap, growth=growth, max_gap=max_gap, clock=clock)
        self._parts: list[str] = []
        self._size = 0
        self._text_cache = ""
        self._written = 0  # text mode: characters already printed
        self.closed = False
        self.first_visible: float | None = None
        self._display = _Display()
        if self.output is None and self.mode != "text":
            # Starts (and ends, see close) as the same empty HTML output as the status line.
            self._display.show(dict(render.EMPTY))

    @property
    def text(self) -> str:
        if len(self._text_cache) != self._size:
            self._text_cache = "".join(self._parts)
            self._parts = [self._text_cache]
        return self._text_cache

    @property
    def messages(self) -> int:
        return self._display.messages

    @property
    def bytes(self) -> int:
        return self._display.bytes

    def append(self, delta: str) -> None:
        """More text."""
        if not delta:
            return
        self._parts.append(delta)
        self._size += len(delta)
        if self.closed:
            return
        if self.mode == "text":
            # A terminal obeys escape sequences: gateway text must not clear the screen or set
            # the window title, so control characters other than newline and tab are dropped.
            sys.stdout.write(_CONTROL.sub("", delta))
            sys.stdout.flush()
            self._written = self._size
            return
        if self.throttle.due(self._size):
            self._push()

    def flush(self) -> None:
        """Send what has not been sent yet (end of stream)."""
        if self.mode != "text" and not self.closed and self._size != self.throttle.sent_size:
            self._push()

    def _push(self) -> None:
        bundle = render.markdown_bundle(self.text)
        if self.output is not None:
            self.output.outputs = (render.output(bundle),)
            self._display._count(bundle)
        else:
            self._display.replace({"text/markdown": bundle["text/markdown"]})
        self.throttle.sent(self._size)
        if self.first_visible is None:
            self.first_visible = self.throttle.last

    def close(self) -> None:
        """Back to the empty output it started as; the final text is the cell's result.

        In the panel the text stays: it is the result there."""
        if self.closed:
            return
        if self.output is not None:
            self.flush()
            self.closed = True
            return
        self.closed = True
        if self.mode == "text":
            sys.stdout.write("\n")
            return
        # Back to empty *HTML*: an empty Markdown update can lose a race with the Markdown
        # renderer still drawing the last text (seen in JupyterLab on a page's first chat),
        # while a change of MIME type makes the front end replace the renderer outright.
        self._display.replace(dict(render.EMPTY))
