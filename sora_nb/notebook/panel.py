"""The control panel: ``%sora_panel`` or ``sora_nb.panel()``. Stock ipywidgets only.

Generate and Send run as tasks on the kernel's loop, so the kernel stays free while a job runs
(widget messages are only handled between cells). Everything shown comes from the same code the
magics use (``work``, ``render``); outputs go through ``Output.outputs``, which JupyterLab renders
from a task (``with out:`` from a task shows nothing there).
"""

from __future__ import annotations

import asyncio
import html
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from .. import _exceptions as E
from ..capabilities import ORIENTATIONS, known_models, rules_for
from ..models import Job, VideoRequest
from . import render, runner, work
from .results import VideoJob
from .views import JobProgress

if TYPE_CHECKING:
    from .magics import SoraMagics

# Choices for models without rules: nothing is checked for them, these are only suggestions.
_FREE_SIZES = ("small", "large")
_FREE_OPENAI_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
_FREE_DURATIONS = (4, 5, 8, 10, 12, 15, 20, 25)
_ACCEPT = "image/png,image/jpeg,image/webp,image/gif"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _output(bundle: dict[str, str]) -> dict[str, Any]:
    return {"output_type": "display_data", "data": bundle, "metadata": {}}


class PanelStatus:
    """The panel's progress bar and status line, fed like a cell's StatusView."""

    def __init__(self, bar: w.FloatProgress, label: w.HTML) -> None:
        self.bar, self.label = bar, label
        self.reset("")

    def reset(self, name: str) -> None:
        self.state = JobProgress(name)
        self.tracker: work.JobTracker | None = None

    def update(
        self, job: Job | None = None, *, status: str | None = None, detail: str | None = None
    ) -> None:
        self.state.apply(job, status=status, detail=detail)
        self.tick()

    def tick(self) -> None:
        with self.bar.hold_sync():
            self.bar.value = float(self.state.progress or 0.0)
            self.bar.bar_style = self.state.bar_style
        self.label.value = html.escape(self.state.text())


class Panel:
    """The widget tree and its behaviour. ``panel.widget`` is what gets displayed."""

    def __init__(self, magics: SoraMagics) -> None:
        self.magics = magics
        self.task: asyncio.Task[Any] | None = None
        self.chat_task: asyncio.Task[Any] | None = None
        self.current: Job | None = None
        self.history: list[VideoJob] = []
        self._entries: dict[str, Any] = {}  # the History list's journal entries, by id
        self._build()
        self._sync_choices()

    # -- layout ----------------------------------------------------------------------------------

    def _build(self) -> None:
        m = self.magics
        full = w.Layout(width="100%")
        self.prompt = w.Textarea(
            placeholder="Describe the video…",
            layout=w.Layout(width="100%", height="5em"),
            description="Prompt",
        )
        models = sorted(set(known_models("unified")) | set(known_models("openai")))
        self.model = w.Combobox(
            value=m.model, options=models, description="Model", ensure_option=False
        )
        self.dialect = w.Dropdown(
            options=["unified", "openai", "chat"], value=m.dialect, description="Dialect"
        )
        self.orientation = w.ToggleButtons(
            options=list(ORIENTATIONS), value=m.orientation or "portrait", description="Orientation"
        )
        self.size = w.Dropdown(description="Size")
        self.duration = w.Dropdown(description="Duration")
        self.image_urls = w.Textarea(
            placeholder="Reference image URLs, one per line",
            description="Images",
            layout=w.Layout(width="100%"),
        )
        self.upload = w.FileUpload(accept=_ACCEPT, multiple=True, description="Add files")
        self.gateway = w.HTML()
        self.generate = w.Button(description="Generate", button_style="primary", icon="play")
        self.cancel = w.Button(description="Cancel", icon="stop", disabled=True)
        self.bar = w.FloatProgress(value=0, min=0, max=100, layout=w.Layout(width="16em"))
        self.status_line = w.HTML()
        self.error = w.HTML()
        self.video = w.Output(layout=full)
        self.status = PanelStatus(self.bar, self.status_line)

        self.history_list = w.Select(options=[], rows=8, layout=full, description="Jobs")
        self.refresh_history = w.Button(description="Refresh", icon="refresh")
        self.play = w.Button(description="Play", icon="play")
        self.resume = w.Button(description="Resume", icon="repeat")
        self.download = w.Button(description="Download", icon="download")
        self.history_out = w.Output(layout=full)

        self.chat_input = w.Textarea(
            placeholder="Message…", layout=w.Layout(width="100%", height="4em")
        )
        self.chat_model = w.Combobox(
            value=m.chat_model, options=[*models, "gpt-4"], description="Model", ensure_option=False
        )
        self.chat_send = w.Button(description="Send", button_style="primary", icon="paper-plane")
        self.chat_new = w.Button(description="New conversation")
        self.chat_out = w.Output(layout=full)
        self.chat_error = w.HTML()

        video_tab = w.VBox(
            [
                self.prompt,
                w.HBox([self.model, self.dialect]),
                self.orientation,
                w.HBox([self.size, self.duration]),
                self.image_urls,
                self.upload,
                self.gateway,
                w.HBox([self.generate, self.cancel]),
                w.HBox([self.bar, self.status_line]),
                self.error,
                self.video,
            ]
        )
        history_tab = w.VBox(
            [
                self.history_list,
                w.HBox([self.refresh_history, self.play, self.resume, self.download]),
                self.history_out,
            ]
        )
        chat_tab = w.VBox(
            [
                self.chat_input,
                w.HBox([self.chat_model, self.chat_send, self.chat_new]),
                self.chat_error,
                self.chat_out,
            ]
        )
        self.widget = w.Tab(children=[video_tab, chat_tab, history_tab])
        for i, title in enumerate(("Video", "Chat", "History")):
            self.widget.set_title(i, title)

        for control in (self.model, self.dialect, self.orientation):
            control.observe(lambda _change: self._sync_choices(), names="value")
        self.generate.on_click(lambda _b: self.start())
        self.cancel.on_click(lambda _b: self.stop())
        self.refresh_history.on_click(lambda _b: self.load_history())
        self.play.on_click(lambda _b: self.play_selected())
        self.resume.on_click(lambda _b: self.resume_selected())
        self.download.on_click(lambda _b: self.resume_selected())
        self.chat_send.on_click(lambda _b: self.send_chat())
        self.chat_new.on_click(lambda _b: self.new_chat())

    def _ipython_display_(self) -> None:
        from IPython.display import display

        # Front ends without widgets (a terminal, a rendered notebook) get a line, not a repr.
        display(
            {
                "text/plain": "sora_nb control panel (needs a Jupyter front end with ipywidgets)",
                "application/vnd.jupyter.widget-view+json": {
                    "version_major": 2,
                    "version_minor": 0,
                    "model_id": self.widget.model_id,
                },
            },
            raw=True,
        )

    # -- choices follow the model's rules -------------------------------------------------------

    def _sync_choices(self) -> None:
        dialect, model = self.dialect.value, (self.model.value or "").strip()
        chat = dialect == "chat"
        for control in (self.orientation, self.size, self.duration, self.image_urls, self.upload):
            control.disabled = chat  # the chat dialect takes only a prompt
        rules = rules_for(model, dialect)
        if rules is not None:
            sizes = list(rules.sizes)
            durations = list(rules.durations)
        else:
            sizes = list(_FREE_OPENAI_SIZES if dialect == "openai" else _FREE_SIZES)
            durations = list(_FREE_DURATIONS)
        if dialect == "openai":
            sizes = [s for s in sizes if _orientation(s) in (None, self.orientation.value)]
        self._set_options(self.size, sizes)
        self._set_options(self.duration, [(f"{_num(d)} s", d) for d in durations])
        client_url = self.magics.base_url or "(not configured)"
        key = self.magics.api_key()
        gateway = "built-in emulator · " if self.magics.emulator is not None else ""
        self.gateway.value = (
            f"<small>Gateway: {gateway}{html.escape(client_url)} · key "
            f"{'***' if key else 'not set'}</small>"
        )

    @staticmethod
    def _set_options(control: w.Dropdown, options: list[Any]) -> None:
        values = [o[1] if isinstance(o, tuple) else o for o in options]
        keep = control.value if control.value in values else (values[0] if values else None)
        control.options = options
        control.value = keep

    # -- video ----------------------------------------------------------------------------------

    def request(self) -> work.VideoSpec:
        """What Generate would send, checked; raises ValidationError with one line."""
        dialect = self.dialect.value
        model = (self.model.value or "").strip()
        images = [u.strip() for u in self.image_urls.value.splitlines() if u.strip()]
        images += self._uploaded_files()
        chat = dialect == "chat"
        request = VideoRequest(
            prompt=self.prompt.value,
            model=model,
            orientation=None if chat else self.orientation.value,
            size=None if chat else self.size.value,
            duration=None if chat else self.duration.value,
            images=() if chat else tuple(images),
        )
        return work.VideoSpec.checked(request, dialect, self.magics.timeout)

    def _uploaded_files(self) -> list[str]:
        # Uploaded files are saved beside the videos so the client reads them like any file.
        paths = []
        folder = Path(self.magics.out_dir) / "uploads"
        for item in self.upload.value:
            name = Path(str(item["name"])).name or "image"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_bytes(bytes(item["content"]))
            paths.append(str(path))
        return paths

    def start(self) -> asyncio.Task[Any] | None:
        """Generate: validate, then run in the background; returns the task."""
        if self.task is not None and not self.task.done():
            return self.task
        self.error.value = ""
        try:
            spec = self.request()
            target = self.magics._target()
        except (E.SoraError, Exception) as exc:
            self._show_error(exc)
            return None
        self.status.reset(spec.model)
        self.status.update()
        self.video.outputs = ()
        self.generate.disabled, self.cancel.disabled = True, False
        self.task = runner.spawn(self._generate(spec, target))
        return self.task

    async def _generate(self, spec: work.VideoSpec, target: work.Target) -> VideoJob | None:
        try:
            result = await work.make_video(spec, target, self.status)  # type: ignore[arg-type]
        except asyncio.CancelledError:
            await self._cancelled()
            return None
        except Exception as exc:
            self.status.update(status="failed")
            self._show_error(exc)
            return None
        finally:
            self.generate.disabled, self.cancel.disabled = False, True
        self.status.update(result, detail="")
        self.video.outputs = (_output(result.bundle()),)
        self.history.insert(0, result)
        self.magics.jobs.append(result)
        self.load_history()
        return result

    def stop(self) -> None:
        """Cancel: stop waiting, and delete the job where the dialect can."""
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def _cancelled(self) -> None:
        self.status.update(status="cancelled")
        tracker = getattr(self.status, "tracker", None)
        job = tracker.job if tracker is not None else None
        if job is not None and job.id and job.dialect == "openai" and not job.done:
            try:
                await self.magics.client().delete_video(job.id)
                self.status.update(detail="deleted on the gateway")
            except E.SoraError as exc:
                self._show_error(exc)
        elif job is not None and job.id:
            self.status.update(
                detail=f"still on the gateway; resume with %sora_jobs --resume {job.id}"
            )

    def _show_error(self, exc: BaseException) -> None:
        line = " ".join(str(exc).split()) or type(exc).__name__
        self.error.value = (
            f'<span style="color:var(--jp-error-color1,#c00)">'
            f"{html.escape(type(exc).__name__)}: {html.escape(line)}</span>"
        )

    # -- history ----------------------------------------------------------------------------------

    def load_history(self) -> None:
        entries = self.magics.journal().entries(limit=50)
        self._entries = {e.id: e for e in entries}
        self.history_list.options = [
            (f"{e.status:<11} {e.model or '':<10} {(e.prompt or '')[:40]}", e.id) for e in entries
        ]

    def _selected(self) -> Any:
        job_id = self.history_list.value
        return self._entries.get(job_id) if job_id else None

    def play_selected(self) -> None:
        entry = self._selected()
        if entry is None:
            return
        if entry.path and Path(entry.path).exists():
            job = VideoJob.of(entry.job(), path=Path(entry.path), base_dir=Path.cwd())
            self.history_out.outputs = (_output(job.bundle()),)
        else:
            self.resume_selected()

    def resume_selected(self) -> asyncio.Task[Any] | None:
        entry = self._selected()
        if entry is None:
            return None
        target = self.magics._target()
        status = PanelStatus(w.FloatProgress(), w.HTML())
        status.reset(entry.model or "video")

        async def go() -> None:
            try:
                result = await work.resume(
                    entry.job(),
                    target,
                    status,  # type: ignore[arg-type]
                    self.magics.timeout,
                )
            except Exception as exc:
                self.history_out.outputs = (
                    _output(
                        {"text/plain": str(exc), "text/html": f"<pre>{html.escape(str(exc))}</pre>"}
                    ),
                )
                return
            self.history_out.outputs = (_output(result.bundle()),)
            self.load_history()

        self.history_out.outputs = (
            _output(
                {
                    "text/plain": f"Resuming {entry.id}…",
                    "text/html": f"<p>Resuming {html.escape(entry.id)}…</p>",
                }
            ),
        )
        return runner.spawn(go())

    # -- chat -------------------------------------------------------------------------------------

    def send_chat(self) -> asyncio.Task[Any] | None:
        message = self.chat_input.value.strip()
        self.chat_error.value = ""
        if not message:
            self.chat_error.value = "Write a message first."
            return None
        if self.chat_task is not None and not self.chat_task.done():
            return self.chat_task
        model = (self.chat_model.value or "").strip() or self.magics.chat_model
        messages = [*self.magics.conversation, {"role": "user", "content": message}]
        target = self.magics._target()
        live = _OutputMarkdown(self.chat_out)

        async def go() -> None:
            try:
                reply = await work.chat(
                    messages,
                    model=model,
                    target=target,
                    stream=True,
                    live=live,
                    status=None,
                    params={},
                )
            except Exception as exc:
                live.flush()
                self.chat_error.value = html.escape(f"{type(exc).__name__}: {exc}")
                return
            finally:
                self.chat_send.disabled = False
            live.flush()
            self.magics.conversation = [*messages, {"role": "assistant", "content": reply.text}]
            self.chat_input.value = ""

        self.chat_send.disabled = True
        self.chat_task = runner.spawn(go())
        return self.chat_task

    def new_chat(self) -> None:
        self.magics.conversation = []
        self.chat_out.outputs = ()


class _OutputMarkdown:
    """Streamed Markdown into an Output widget, throttled like the cell view."""

    def __init__(self, out: w.Output, min_gap: float = 0.1) -> None:
        self.out, self.min_gap = out, min_gap
        self.text, self._sent, self._last = "", "", float("-inf")

    def set(self, text: str) -> None:
        self.text = text
        now = time.monotonic()
        if now - self._last >= self.min_gap:
            self.flush()

    def flush(self) -> None:
        if self.text != self._sent:
            self.out.outputs = (_output(render.markdown_bundle(self.text)),)
            self._sent, self._last = self.text, time.monotonic()


def _orientation(size: str) -> str | None:
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        return None
    return "landscape" if width > height else "portrait" if height > width else None
