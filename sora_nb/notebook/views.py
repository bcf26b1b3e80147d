"""Live outputs: a job's status line and streamed chat text, updated in place at a bounded rate.

Each view displays itself once, in the cell that creates it, and is only updated afterwards (so
output never lands in another cell). When the work ends the view returns to the empty output it
started as, and the cell's final result is shown as a new, deterministic output: notebook tests
(nbval) compare the first display of each output and ignore updates, so live views never make a
saved notebook differ from a fresh run.

Modes: ``widget`` (an ipywidgets progress bar, for front ends that render widgets), ``html``
(a ``<progress>`` line updated through display ids, for any Jupyter front end), ``text``
(a carriage-return line, for terminal IPython).
"""

from __future__ import annotations

import html
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from ..models import Job
from ..polling import PollSchedule
from . import render

Clock = Callable[[], float]


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


class _Display:
    """A display id and a counter of the messages sent through it."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.display_id = f"sora-nb-{uuid.uuid4().hex}"
        self.messages = 0
        self.bytes = 0

    def show(self, bundle: dict[str, Any]) -> None:
        from IPython.display import display

        display(bundle, raw=True, display_id=self.display_id)
        self._count(bundle)

    def replace(self, bundle: dict[str, Any]) -> None:
        from IPython.display import update_display

        update_display(bundle, raw=True, display_id=self.display_id)
        self._count(bundle)

    def _count(self, bundle: dict[str, Any]) -> None:
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

    def apply(
        self, job: Job | None = None, *, status: str | None = None, detail: str | None = None
    ) -> None:
        if job is not None:
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


class StatusView:
    """One live line for one job, in the cell that made it, updated at a bounded rate."""

    def __init__(
        self, label: str, *, mode: str = "auto", rate: float = 4.0, clock: Clock = time.monotonic
    ) -> None:
        self.state = JobProgress(label, clock)
        self.mode = pick_mode(mode)
        self.min_gap = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._last_render = float("-inf")
        self._last_key: tuple[Any, ...] | None = None
        self.closed = False
        self._display = _Display(self.mode)
        self._widgets: Any = None
        self._open()

    @property
    def status(self) -> str:
        return self.state.status

    @property
    def progress(self) -> float | None:
        return self.state.progress

    @property
    def messages(self) -> int:
        """Messages sent to the front end so far (display updates or widget syncs)."""
        return self._display.messages

    def _open(self) -> None:
        if self.mode == "text":
            self._render(force=True)
            return
        if self.mode == "widget":
            import ipywidgets as w

            bar = w.FloatProgress(value=0.0, min=0.0, max=100.0, layout=w.Layout(width="14em"))
            label = w.HTML(value="")
            self._widgets = (w.HBox([bar, label]), bar, label)
            bundle = dict(render.EMPTY)
            bundle["application/vnd.jupyter.widget-view+json"] = {
                "version_major": 2,
                "version_minor": 0,
                "model_id": self._widgets[0].model_id,
            }
            self._display.show(bundle)
        else:
            self._display.show(dict(render.EMPTY))
        self._render(force=True)

    def update(
        self, job: Job | None = None, *, status: str | None = None, detail: str | None = None
    ) -> None:
        """New information; rendered now if the status changed or enough time has passed."""
        self.state.apply(job, status=status, detail=detail)
        self._render()

    def tick(self) -> None:
        """Called about once a second, so elapsed and time left move between polls."""
        self._render()

    def _render(self, force: bool = False) -> None:
        if self.closed:
            return
        now = self._clock()
        key = self.state.key()
        status_changed = self._last_key is None or key[0] != self._last_key[0]
        if not force and (
            key == self._last_key or (not status_changed and now - self._last_render < self.min_gap)
        ):
            return
        self._last_key, self._last_render = key, now
        if self.mode == "text":
            sys.stdout.write("\r" + self.state.text().ljust(78))
            sys.stdout.flush()
            self._display.messages += 1
        elif self.mode == "widget":
            _, bar, label = self._widgets
            with bar.hold_sync(), label.hold_sync():
                bar.value = float(self.state.progress or 0.0)
                bar.bar_style = self.state.bar_style
                label.value = f"<span>{html.escape(self.state.text())}</span>"
            self._display.messages += 1
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
        if self._widgets is not None:
            for widget in self._widgets:
                widget.close()

    def show_instead(self, bundle: dict[str, Any]) -> None:
        """Replace the status with a final bundle (background jobs, whose cell has finished)."""
        self.closed = True
        if self.mode == "text":
            sys.stdout.write("\n" + bundle.get("text/plain", "") + "\n")
            return
        self._display.replace(bundle)
        if self._widgets is not None:
            for widget in self._widgets:
                widget.close()


class LiveMarkdown:
    """Streamed text rendered in place as Markdown, at a bounded rate and a bounded volume.

    An update is sent when at least ``min_gap`` seconds have passed and the text has grown by
    ``growth`` (20%) since the last one, or ``max_gap`` seconds have passed. Each update carries
    the whole text (Markdown only: the final result carries the plain text), so the growth rule
    bounds the bytes sent to (1 + 1/growth) = 6 times the final
    text, plus one update per ``max_gap`` for slow streams. The first text is sent at once.
    """

    def __init__(
        self,
        *,
        mode: str = "auto",
        min_gap: float = 0.1,
        max_gap: float = 2.0,
        growth: float = 0.2,
        clock: Clock = time.monotonic,
    ) -> None:
        self.mode = "text" if pick_mode(mode) == "text" else "html"
        self.min_gap, self.max_gap, self.growth = min_gap, max_gap, growth
        self._clock = clock
        self._sent_len = 0
        self._last = float("-inf")
        self._written = 0  # text mode: characters already printed
        self.text = ""
        self.closed = False
        self.first_visible: float | None = None
        self._display = _Display(self.mode)
        if self.mode != "text":
            # Starts (and ends, see close) as the same empty HTML output as the status line.
            self._display.show(dict(render.EMPTY))

    @property
    def messages(self) -> int:
        return self._display.messages

    @property
    def bytes(self) -> int:
        return self._display.bytes

    def set(self, text: str) -> None:
        """The whole text so far."""
        self.text = text
        if self.closed:
            return
        if self.mode == "text":
            sys.stdout.write(text[self._written :])
            sys.stdout.flush()
            self._written = len(text)
            return
        now = self._clock()
        grown = len(text) - self._sent_len
        if grown <= 0:
            return
        first = self._sent_len == 0
        if first or (
            now - self._last >= self.min_gap
            and (grown >= self.growth * self._sent_len or now - self._last >= self.max_gap)
        ):
            self._push(text, now)

    def flush(self) -> None:
        """Send what has not been sent yet (end of stream)."""
        if self.mode != "text" and not self.closed and len(self.text) != self._sent_len:
            self._push(self.text, self._clock())

    def _push(self, text: str, now: float) -> None:
        self._display.replace({"text/markdown": render.safe_markdown(text)})
        self._sent_len, self._last = len(text), now
        if self.first_visible is None:
            self.first_visible = now

    def close(self) -> None:
        """Back to the empty output it started as; the final text is the cell's result."""
        if self.closed:
            return
        self.closed = True
        if self.mode == "text":
            sys.stdout.write("\n")
            return
        # Back to empty *HTML*: an empty Markdown update can lose a race with the Markdown
        # renderer still drawing the last text (seen in JupyterLab on a page's first chat),
        # while a change of MIME type makes the front end replace the renderer outright.
        self._display.replace(dict(render.EMPTY))
