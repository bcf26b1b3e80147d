"""The notebook's application state, shared by the magics and the panel (neither knows the
other): settings snapshots, the journal, the built-in emulator, the chat conversation, the jobs
made so far, background tasks, and one client per settings snapshot.

Each cell or click works from a :class:`Settings` snapshot taken when it starts, so a setting
changed while a job runs (``%config SoraMagics.poll_interval = 0.5``) never touches that job: its
client stays open until the last run using it ends, and only then is it closed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _exceptions as E
from ..config import ENV_BASE_URL
from .settings import Settings

if TYPE_CHECKING:
    from ..client import AsyncClient
    from ..events import RunEvent
    from ..journal import Entry, Journal
    from ..models import ChatEvent, ImageResult, Job
    from ..probing import ProbeResult
    from ..runs import PreparedVideo
    from .results import ChatReply, ImageSet, VideoJob
    from .sinks import LiveMarkdown, StatusSink

# Imported by the first cell that needs them, not by %load_ext: see magics.py.

__all__ = ["Run", "Session"]


@dataclass
class Run:
    """One job a cell or the panel started: its label, live sink, task and latest job."""

    label: str
    sink: StatusSink | None = None
    task: asyncio.Task[Any] | None = None
    job: Job | None = None

    def __call__(self, event: RunEvent) -> None:
        if event.job is not None and (event.job.id or self.job is None):
            self.job = event.job
        if self.sink is not None:
            self.sink(event)


@dataclass
class _Lease:
    client: AsyncClient
    users: int = 0


@dataclass
class Session:
    """What a loaded ``sora_nb`` extension holds. ``settings`` gives the current snapshot."""

    settings: Callable[[], Settings]
    emulator: Any = None  # the built-in Emulator, when the extension started one
    conversation: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[Any] = field(default_factory=list)  # this session's finished VideoJobs
    background: list[asyncio.Task[Any]] = field(default_factory=list)  # newest last
    runs: list[Run] = field(default_factory=list)  # every run started, newest last
    _journal: Journal | None = field(default=None, repr=False)
    _clients: dict[tuple[Any, ...], _Lease] = field(default_factory=dict, repr=False)

    @property
    def journal(self) -> Journal:
        from ..journal import Journal

        if self._journal is None:
            self._journal = Journal()
        return self._journal

    # -- clients ---------------------------------------------------------------------------------

    def client(self, settings: Settings | None = None) -> AsyncClient:
        """The client for ``settings`` (default: now), made on first need and then shared."""
        from ..client import AsyncClient

        settings = settings or self.settings()
        key = settings.connection()
        lease = self._clients.get(key)
        if lease is None or lease.client.closed:
            if not settings.base_url:
                raise E.ConfigError(
                    f"no gateway configured: set {ENV_BASE_URL} or run "
                    "%sora_config base_url=https://relay.example/v1"
                )
            client = AsyncClient(
                base_url=settings.base_url,
                # "" (not None): the snapshot decided; no falling back to $SORA_API_KEY.
                api_key=settings.api_key.reveal() or "",
                dialect=settings.dialect,
                model=settings.model,
                poll_interval=settings.poll_interval,
                max_poll_interval=max(settings.poll_interval, settings.max_poll_interval),
                verify=settings.verify_tls,
                journal=self.journal,
            )
            lease = self._clients[key] = _Lease(client)
        return lease.client

    def probed(self, settings: Settings) -> ProbeResult | None:
        """With dialect=auto, what the relay was found to serve (the client probes it once)."""
        try:
            return self.client(settings).probe_result
        except E.SoraError:
            return None  # the first cell says what is wrong, in one line

    @contextlib.asynccontextmanager
    async def lease(self, settings: Settings) -> AsyncIterator[AsyncClient]:
        """The client for ``settings``, kept open while the block runs."""
        client = self.client(settings)
        key = settings.connection()
        self._clients[key].users += 1
        try:
            yield client
        finally:
            lease = self._clients.get(key)
            if lease is not None:
                lease.users -= 1
                if lease.users <= 0 and key != self._current_key():
                    del self._clients[key]
                    await lease.client.aclose()

    def _current_key(self) -> tuple[Any, ...] | None:
        try:
            return self.settings().connection()
        except Exception:  # settings being torn down: nothing is current
            return None

    def retire(self) -> None:
        """Settings changed: close the clients no run uses that no longer match them. Clients
        a running job still uses stay open until it ends."""
        from . import runner

        current = self._current_key()
        for key, lease in list(self._clients.items()):
            if key != current and lease.users <= 0:
                del self._clients[key]
                with contextlib.suppress(Exception):
                    runner.run(lease.client.aclose())

    def close(self) -> None:
        """Unload: stop background work and close every client."""
        from . import runner

        for task in self.background:
            task.cancel()
        for lease in self._clients.values():
            with contextlib.suppress(Exception):
                runner.run(lease.client.aclose())
        self._clients.clear()

    # -- work ------------------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` in the background on the kernel's loop."""
        from . import runner

        task = runner.spawn(coro)
        self.background.append(task)
        return task

    def track(self, label: str, sink: StatusSink | None) -> Run:
        run = Run(label, sink)
        self.runs.append(run)
        return run

    async def make_video(
        self,
        prepared: PreparedVideo | None,
        settings: Settings,
        run: Run,
        *,
        out_dir: Path | None,
        show: str,
        resume: Job | None = None,
        timeout: float | None = None,
    ) -> VideoJob:
        """One video through the lifecycle, drawn on ``run``'s sink; the finished VideoJob."""
        from .results import VideoJob

        async with self.lease(settings) as client, _ticking(run.sink):
            outcome = await client.run_video(
                prepared, out_dir=out_dir, resume=resume, timeout=timeout, on_event=run
            )
        video = VideoJob.of(
            outcome.job,
            path=outcome.path,
            show=show,
            base_dir=Path.cwd(),
            embed_limit=settings.embed_limit,
        )
        self.jobs.append(video)
        return video

    def reopen(self, entry: Entry, settings: Settings) -> VideoJob:
        """A journaled job's saved video, shown as ``settings`` say; no request is sent."""
        from .results import VideoJob

        return VideoJob.of(
            entry.job(),
            path=Path(entry.path) if entry.path else None,
            show=settings.show,
            base_dir=Path.cwd(),
            embed_limit=settings.embed_limit,
        )

    async def chat(
        self,
        messages: list[dict[str, Any]],
        settings: Settings,
        *,
        model: str,
        params: dict[str, Any],
        stream: bool,
        live: LiveMarkdown,
        video: Run | None,
        out_dir: Path | None,
        show: str,
    ) -> ChatReply:
        """A chat answer streamed into ``live``. With ``video`` (a video model), the answer is
        a video job through the one lifecycle (journaled, drawn on ``video``'s sink, downloaded);
        an answer that never named a task is a plain reply."""
        from ..events import Text
        from .results import ChatReply, VideoJob

        async with self.lease(settings) as client:
            if video is None:
                return await _plain_chat(client, messages, model, params, stream, live)
            prepared = client.prepare_chat(messages, model=model, stream=stream, **params)
            last: list[ChatEvent] = []

            def listen(event: RunEvent) -> None:
                if isinstance(event, Text):
                    last[:] = [event.event]
                    live.append(event.event.text)
                video(event)

            try:
                async with _ticking(video.sink):
                    outcome = await client.run_video(prepared, out_dir=out_dir, on_event=listen)
            except E.GenerationFailed as exc:
                if exc.job.id or exc.job.progress is not None:
                    raise
                # The model answered in words and never started a job: a plain reply.
                live.flush()
                return ChatReply(text=live.text, event=last[0] if last else None)
            live.flush()
        result = VideoJob.of(
            outcome.job,
            path=outcome.path,
            show=show,
            base_dir=Path.cwd(),
            embed_limit=settings.embed_limit,
        )
        self.jobs.append(result)
        return ChatReply(text=live.text, event=last[0] if last else None, video=result)

    async def make_images(self, settings: Settings, out_dir: Path, **request: Any) -> ImageSet:
        """Images from ``POST /images/generations``, each saved into ``out_dir``."""
        from .results import ImageSet

        async with self.lease(settings) as client:
            results = await client.generate_images(**request)
            saved = [await _save_image(client, out_dir, r, i) for i, r in enumerate(results)]
        return ImageSet(saved, base_dir=Path.cwd())

    async def refresh(self, settings: Settings) -> None:
        """Ask the gateway about every unfinished job in the journal made on it."""
        from .. import dialects
        from ..events import is_local

        async with self.lease(settings) as client:
            for entry in self.journal.entries(limit=200, unfinished=True, base_url=client.base_url):
                if entry.dialect not in dialects.names():
                    continue  # a family not registered in this kernel
                if is_local(entry.id):
                    await self._find(client, entry)
                    continue
                if not dialects.get(entry.dialect).abilities.poll:
                    continue  # made through a stream: nothing to ask
                try:
                    job = await client.get_job(entry.id, dialect=entry.dialect)
                except E.NotFoundError:
                    # One 404 is not an ending (relays answer it for a moment while a task moves
                    # between upstreams): keep the status, say what was seen.
                    job = replace(
                        entry.job(),
                        error="the gateway did not find this job when last asked; "
                        "%sora_jobs --resume asks again",
                    )
                self.journal.update(client.base_url, job)

    async def _find(self, client: AsyncClient, entry: Entry) -> None:
        """A create whose answer never came: where the gateway lists jobs, find the one with
        this prompt made since, and give the row its real id."""
        from ..recovery import find_lost

        await find_lost(client, self.journal, entry)


async def _save_image(
    client: AsyncClient, out_dir: Path, result: ImageResult, index: int
) -> tuple[ImageResult, Path | None]:
    from ..models import Job
    from . import render

    out_dir.mkdir(parents=True, exist_ok=True)
    if result.b64_json:
        digest = hashlib.sha256(result.b64_json.encode()).hexdigest()[:12]
        path = out_dir / f"image-{digest}.png"
        path.write_bytes(base64.b64decode(result.b64_json))
        return result, path
    if render.safe_url(result.url):
        holder = Job(
            id=f"image-{index}", status="completed", dialect="images", video_url=result.url
        )
        name = Path(str(result.url).split("?")[0]).name or f"image-{index}.png"
        return result, await client.download(holder, out_dir, filename=name)
    return result, None


async def _plain_chat(
    client: AsyncClient,
    messages: list[dict[str, Any]],
    model: str,
    params: dict[str, Any],
    stream: bool,
    live: LiveMarkdown,
) -> ChatReply:
    from .results import ChatReply

    event: ChatEvent | None = None
    if stream:
        async for event in client.stream_chat(messages, model=model, **params):
            live.append(event.text)
    else:
        event = await client.chat(messages, model=model, **params)
        live.append(event.full_text)
    live.flush()
    return ChatReply(text=live.text, event=event)


@contextlib.asynccontextmanager
async def _ticking(sink: StatusSink | None) -> AsyncIterator[None]:
    from .sinks import ticking

    if sink is None:
        yield
        return
    async with ticking(sink):
        yield
