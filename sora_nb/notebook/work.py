"""The coroutines behind the magics: make a video, stream a chat, resume a job.

They run on the kernel's loop (``runner``), update live views, and write the journal before
anything waits on a job.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import _exceptions as E
from ..capabilities import validate_video_request
from ..client import AsyncClient, load_image
from ..dialects.chat import job_from_event
from ..journal import Journal
from ..models import ChatEvent, Job, VideoRequest
from .results import ChatReply, VideoJob
from .views import LiveMarkdown, StatusView


@dataclass
class Target:
    """Where the work goes: the client, the journal, and how videos are kept and shown."""

    client: AsyncClient
    journal: Journal
    out_dir: Path
    show: str = "file"  # file | embed | link
    base_dir: Path | None = None
    progress_mode: str = "auto"
    update_rate: float = 4.0

    @property
    def base_url(self) -> str:
        return self.client.base_url


@dataclass
class VideoSpec:
    prompt: str
    model: str
    dialect: str
    orientation: str | None = None
    size: str | None = None
    duration: float | None = None
    images: Sequence[str] = ()
    timeout: float | None = 900.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def checked(cls, request: VideoRequest, dialect: str, timeout: float | None) -> VideoSpec:
        """A spec from ``request``, checked as the gateway would (model rules, image files):
        raises ValidationError with one line, before anything is sent."""
        validate_video_request(request, dialect)
        for image in request.images:
            load_image(image)
        return cls(
            prompt=request.prompt.strip(),
            model=request.model,
            dialect=dialect,
            orientation=request.orientation,
            size=request.size,
            duration=request.duration,
            images=tuple(request.images),
            timeout=timeout,
        )

    def params(self) -> dict[str, Any]:
        return {
            "orientation": self.orientation,
            "size": self.size,
            "duration": self.duration,
            "images": [
                i if i.startswith(("http://", "https://")) else Path(i).name for i in self.images
            ],
        }


@contextlib.asynccontextmanager
async def ticking(view: StatusView, every: float = 1.0) -> AsyncIterator[None]:
    """Re-render ``view`` about once a second so elapsed time moves between polls."""

    async def tick() -> None:
        while True:
            await asyncio.sleep(every)
            view.tick()

    task = asyncio.get_running_loop().create_task(tick())
    try:
        yield
    finally:
        task.cancel()


class JobTracker:
    """Journal and view updates for one job, as it moves. Records before anything waits."""

    def __init__(self, target: Target, view: StatusView, spec: VideoSpec | None) -> None:
        self.target, self.view, self.spec = target, view, spec
        self.job: Job | None = None
        self._recorded = False

    def __call__(self, job: Job) -> None:
        self.job = job
        if job.id:
            if not self._recorded:
                self.target.journal.record(
                    self.target.base_url, job, self.spec.params() if self.spec else {}
                )
                self._recorded = True
            else:
                self.target.journal.update(self.target.base_url, job)
        self.view.update(job)


async def make_video(spec: VideoSpec, target: Target, view: StatusView) -> VideoJob:
    """Create (or stream), wait, download: the whole of one ``%%sora_video`` variant."""
    client = target.client
    track = JobTracker(target, view, spec)
    view.tracker = track  # type: ignore[attr-defined]
    async with ticking(view):
        try:
            if spec.dialect == "chat":
                job = await client.generate_video(
                    spec.prompt, model=spec.model, dialect="chat", on_update=track, **spec.extra
                )
            else:
                job = await client.create_video(
                    spec.prompt,
                    model=spec.model,
                    images=spec.images,
                    orientation=spec.orientation,
                    size=spec.size,
                    duration=spec.duration,
                    dialect=spec.dialect,
                    **spec.extra,
                )
                track(job)
                if not job.done:
                    job = await client.wait(job, timeout=spec.timeout, on_update=track)
            track(job)
        except E.GenerationFailed as exc:
            if exc.job.id:
                track(exc.job)
            raise
        return await finish(job, target, view)


async def finish(job: Job, target: Target, view: StatusView) -> VideoJob:
    """Download a completed job (unless it is shown as a link) and record where it went."""
    path = None
    if target.show != "link":
        view.update(detail="downloading")
        path = await target.client.download(job, target.out_dir)
        # Absolute in the journal: it is shared by every notebook of this user.
        target.journal.update(target.base_url, job, path=path.resolve())
    return VideoJob.of(job, path=path, show=target.show, base_dir=target.base_dir)


async def resume(job: Job, target: Target, view: StatusView, timeout: float | None) -> VideoJob:
    """Finish a job found in the journal: wait if it is still running, then download."""
    track = JobTracker(target, view, None)
    track._recorded = True
    async with ticking(view):
        if not job.done:
            if job.dialect == "chat":
                raise E.ValidationError(
                    f"job {job.id} was made through the chat dialect, which has no status "
                    "endpoint; it cannot be resumed"
                )
            job = await target.client.wait(job, timeout=timeout, on_update=track)
            track(job)
        elif job.status != "completed":
            raise E.GenerationFailed(
                f"video job {job.id} {job.status}: {job.error or ''}", job=job, reason=job.error
            )
        return await finish(job, target, view)


async def chat(
    messages: list[dict[str, Any]],
    *,
    model: str,
    target: Target,
    stream: bool,
    live: LiveMarkdown | None,
    status: StatusView | None,
    params: Mapping[str, Any],
) -> ChatReply:
    """Stream (or fetch) a chat answer into ``live``; a video it makes plays at the end.

    For video models the text's progress drives ``status`` like a ``%%sora_video`` job.
    """
    client = target.client
    track = JobTracker(target, status, None) if status is not None else None
    prompt = str(messages[-1].get("content", "")) if messages else None
    event: ChatEvent | None = None
    last: Job | None = None
    if stream:
        async for event in client.stream_chat(messages, model=model, **params):
            if live is not None:
                live.set(event.full_text)
            if track is not None and (event.progress is not None or event.task_id):
                job = job_from_event(event, model=model, prompt=prompt)
                if job.changed_from(last):
                    last = job
                    track(job)
        if live is not None:
            live.flush()
    else:
        event = await client.chat(messages, model=model, **params)
        if live is not None:
            live.set(event.full_text)
    if event is None:
        return ChatReply(text="")
    video = None
    if event.video_url and status is not None:
        job = job_from_event(event, model=model, prompt=prompt)
        if track is not None:
            track(job)
        video = await finish(job, target, status)
    return ChatReply(text=event.full_text, event=event, video=video)
