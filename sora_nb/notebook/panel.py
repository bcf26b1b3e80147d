"""The control panel: ``%sora_panel`` or ``sora_nb.panel()``. Stock ipywidgets only.

Generate and Send run as tasks on the kernel's loop, so the kernel stays free while a job runs
(widget messages are only handled between cells). The panel works on the extension's
:class:`~sora_nb.notebook.session.Session` (not on the magics): the same lifecycle, journal,
sinks and error line as the cells. Outputs go through ``Output.outputs``, which JupyterLab renders
from a task (``with out:`` from a task shows nothing there).
"""

from __future__ import annotations

import asyncio
import html
from pathlib import Path
from typing import Any

import ipywidgets as w

from .. import _exceptions as E
from .. import dialects
from ..capabilities import ORIENTATIONS, known_models, pixel_sizes, rules_for
from ..models import Job
from ..runs import PreparedVideo
from . import render
from .results import VideoJob
from .session import Run, Session
from .sinks import LiveMarkdown, PanelStatus

# Choices for models without rules: nothing is checked for them, these are only suggestions.
_FREE_SIZES = ("small", "large")
_FREE_OPENAI_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
_FREE_DURATIONS = (4, 5, 8, 10, 12, 15, 20, 25)
_ACCEPT = "image/png,image/jpeg,image/webp,image/gif"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class Panel:
    """The widget tree and its behaviour. ``panel.widget`` is what gets displayed."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.task: asyncio.Task[Any] | None = None
        self.chat_task: asyncio.Task[Any] | None = None
        self.run: Run | None = None
        self.history: list[VideoJob] = []
        self._entries: dict[str, Any] = {}  # the History list's journal entries, by id
        self._build()
        self._sync_choices()

    # -- layout ----------------------------------------------------------------------------------

    @property
    def current(self) -> Job | None:
        """The job Generate made last (None before its create was answered)."""
        return self.run.job if self.run is not None else None

    def _build(self) -> None:
        m = self.session.settings()
        full = w.Layout(width="100%")
        self.prompt = w.Textarea(
            placeholder="Describe the video…",
            layout=w.Layout(width="100%", height="5em"),
            description="Prompt",
        )
        models = sorted(known_models())
        self.model = w.Combobox(
            value=m.model, options=models, description="Model", ensure_option=False
        )
        self.dialect = w.Dropdown(
            options=list(dialects.names()),
            value=self.session.client(m).dialect,  # dialect=auto: what the relay serves
            description="Dialect",
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
        family = dialects.get(self.dialect.value)
        model = (self.model.value or "").strip()
        takes_options = family.abilities.options
        for control in (self.orientation, self.size, self.duration):
            control.disabled = not takes_options  # the chat family takes a prompt and images
        for control in (self.image_urls, self.upload):
            control.disabled = not family.abilities.images
        rules = rules_for(model, family)
        pixels = pixel_sizes(family)
        if rules is not None:
            sizes = list(rules.sizes)
            durations = list(rules.durations)
        else:
            sizes = list(_FREE_OPENAI_SIZES if pixels else _FREE_SIZES)
            durations = list(_FREE_DURATIONS)
        # Pixel sizes say their orientation: offer those that match the one chosen.
        sizes = [s for s in sizes if _orientation(s) in (None, self.orientation.value)]
        self._set_options(self.size, sizes)
        self._set_options(self.duration, [(f"{_num(d)} s", d) for d in durations])
        settings = self.session.settings()
        client_url = settings.base_url or "(not configured)"
        gateway = "built-in emulator · " if self.session.emulator is not None else ""
        self.gateway.value = (
            f"<small>Gateway: {gateway}{html.escape(client_url)} · key "
            f"{'***' if settings.api_key else 'not set'}</small>"
        )

    @staticmethod
    def _set_options(control: w.Dropdown, options: list[Any]) -> None:
        values = [o[1] if isinstance(o, tuple) else o for o in options]
        keep = control.value if control.value in values else (values[0] if values else None)
        control.options = options
        control.value = keep

    # -- video ----------------------------------------------------------------------------------

    def request(self) -> PreparedVideo:
        """What Generate would send, checked; raises ValidationError with one line."""
        family = dialects.get(self.dialect.value)
        settings = self.session.settings()
        options = family.abilities.options
        images = [u.strip() for u in self.image_urls.value.splitlines() if u.strip()]
        if family.abilities.images:
            images += self._uploaded_files(settings.out_dir)
        return self.session.client(settings).prepare(
            self.prompt.value,
            model=(self.model.value or "").strip(),
            orientation=self.orientation.value if options else None,
            size=self.size.value if options else None,
            duration=self.duration.value if options else None,
            images=images if family.abilities.images else (),
            dialect=family,
            timeout=settings.timeout,
        )

    def _uploaded_files(self, out_dir: str) -> list[str]:
        # Uploaded files are saved beside the videos so the client reads them like any file.
        paths = []
        folder = Path(out_dir) / "uploads"
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
            settings = self.session.settings()
            prepared = self.request()
        except Exception as exc:
            self._show_error(exc)
            return None
        show = settings.show
        out_dir = None if show == "link" else Path(settings.out_dir)
        self.status = PanelStatus(
            self.bar,
            self.status_line,
            name=prepared.request.model,
            rate=settings.update_rate,
            fetching=out_dir is not None,
        )
        self.run = self.session.track(prepared.request.model, self.status)
        self.video.outputs = ()
        self.generate.disabled, self.cancel.disabled = True, False
        self.task = self.session.spawn(self._generate(prepared, settings, out_dir, show))
        return self.task

    async def _generate(
        self, prepared: PreparedVideo, settings: Any, out_dir: Path | None, show: str
    ) -> VideoJob | None:
        run = self.run
        assert run is not None
        try:
            result = await self.session.make_video(
                prepared, settings, run, out_dir=out_dir, show=show
            )
        except asyncio.CancelledError:
            await self._cancelled(settings)
            return None
        except Exception as exc:
            self.status.update(status="failed")
            self._show_error(exc)
            return None
        finally:
            self.generate.disabled, self.cancel.disabled = False, True
        self.status.update(result, detail="")
        self.video.outputs = (render.output(result.bundle()),)
        self.history.insert(0, result)
        self.load_history()
        return result

    def stop(self) -> None:
        """Cancel: stop waiting, and delete the job where the dialect can."""
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def _cancelled(self, settings: Any) -> None:
        self.status.update(status="cancelled")
        job = self.current
        if job is None or not job.id:
            return
        family = dialects.get(job.dialect)
        if family.abilities.delete and not job.done:
            try:
                async with self.session.lease(settings) as client:
                    await client.delete_video(job.id, dialect=family)
                self.status.update(detail="deleted on the gateway")
            except E.SoraError as exc:
                self._show_error(exc)
        else:
            self.status.update(
                detail=f"still on the gateway; resume with %sora_jobs --resume {job.id}"
            )

    def _show_error(self, exc: BaseException) -> None:
        line = render.error_line(exc, named=True)
        self.error.value = (
            f'<span style="color:var(--jp-error-color1,#c00)">{html.escape(line)}</span>'
        )

    # -- history ----------------------------------------------------------------------------------

    def load_history(self) -> None:
        entries = self.session.journal.entries(limit=50)
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
            job = self.session.reopen(entry, self.session.settings())
            self.history_out.outputs = (render.output(job.bundle()),)
        else:
            self.resume_selected()

    def resume_selected(self) -> asyncio.Task[Any] | None:
        entry = self._selected()
        if entry is None:
            return None
        settings = self.session.settings()
        if entry.base_url != settings.base_url:
            # The key configured now belongs to the gateway configured now: never send it to
            # the one this job was made on.
            self.history_out.outputs = (
                render.output(
                    render.error_bundle(
                        E.ConfigError(
                            f"job {entry.id} was made on {entry.base_url}, but sora_nb now "
                            f"points at {settings.base_url}; switch gateways to resume it"
                        )
                    )
                ),
            )
            return None
        show = settings.show
        out_dir = None if show == "link" else Path(settings.out_dir)
        status = PanelStatus(w.FloatProgress(), w.HTML(), name=entry.model or "video")
        run = self.session.track(entry.model or "video", status)

        async def go() -> None:
            try:
                result = await self.session.make_video(
                    None,
                    settings,
                    run,
                    out_dir=out_dir,
                    show=show,
                    resume=entry.job(),
                    timeout=settings.timeout,
                )
            except Exception as exc:
                self.history_out.outputs = (render.output(render.error_bundle(exc)),)
                return
            self.history_out.outputs = (render.output(result.bundle()),)
            self.load_history()

        self.history_out.outputs = (
            render.output(
                {
                    "text/plain": f"Resuming {entry.id}…",
                    "text/html": f"<p>Resuming {html.escape(entry.id)}…</p>",
                }
            ),
        )
        return self.session.spawn(go())

    # -- chat -------------------------------------------------------------------------------------

    def send_chat(self) -> asyncio.Task[Any] | None:
        message = self.chat_input.value.strip()
        self.chat_error.value = ""
        if not message:
            self.chat_error.value = "Write a message first."
            return None
        if self.chat_task is not None and not self.chat_task.done():
            return self.chat_task
        settings = self.session.settings()
        model = (self.chat_model.value or "").strip() or settings.chat_model
        messages = [*self.session.conversation, {"role": "user", "content": message}]
        live = LiveMarkdown(output=self.chat_out)

        async def go() -> None:
            try:
                reply = await self.session.chat(
                    messages,
                    settings,
                    model=model,
                    params={},
                    stream=True,
                    live=live,
                    video=None,
                    out_dir=None,
                    show=settings.show,
                )
            except Exception as exc:
                live.close()
                self.chat_error.value = html.escape(render.error_line(exc, named=True))
                return
            finally:
                self.chat_send.disabled = False
            live.close()
            self.session.conversation[:] = [
                *messages,
                {"role": "assistant", "content": reply.text},
            ]
            self.chat_input.value = ""

        self.chat_send.disabled = True
        self.chat_task = self.session.spawn(go())
        return self.chat_task

    def new_chat(self) -> None:
        self.session.conversation.clear()
        self.chat_out.outputs = ()


def _orientation(size: str) -> str | None:
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        return None
    return "landscape" if width > height else "portrait" if height > width else None
