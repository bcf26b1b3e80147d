"""The asynchronous client, :class:`AsyncClient`: the one client written by hand.

``sync_client.Client`` is generated from this file by ``scripts/unasync.py`` (``await`` and
``async`` dropped, each async name swapped for its blocking twin), and a test checks that the
generated file is up to date: change this file, then run ``python scripts/unasync.py``.

Every call is planned in ``plans.ClientCore`` as a flow (``flows``; videos through the one
lifecycle in ``runs``): the retries, polling, deadlines and journaling exist once. The client
only performs the flows' steps, with httpx and the event loop's sleep, so each public method is
one line.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import EventSource

from . import _exceptions as E
from . import billing, flows
from .dialects import Dialect, HttpRequest
from .events import RunEvent, Text
from .models import ChatEvent, ImageResult, Job
from .plans import OnEvent
from .runs import Outcome, PreparedVideo
from .transport import Download, Messages, OnUpdate, Stream, Transport, acall, anext_sse, log

__all__ = ["AsyncClient"]


class AsyncClient(Transport):
    """Asynchronous client: every method is awaited, and ``stream_chat`` is an async iterator.

    ``AsyncClient(base_url=None, api_key=None, dialect=None)`` reads ``SORA_BASE_URL``,
    ``SORA_API_KEY`` and ``SORA_DIALECT`` for what is not given. With ``journal=True`` every job
    it submits is written to the journal the magics use (``%sora_jobs``) before anything waits
    on it, so a script that dies mid-wait loses no paid job.
    Listeners (``on_update``, ``on_event``) may be coroutine functions.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        dialect: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        **options: Any,
    ) -> None:
        super().__init__(base_url, api_key, dialect, **options)
        self._http = httpx.AsyncClient(transport=transport, **self._http_options())

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    # -- performing steps -------------------------------------------------------------------------

    async def _send(
        self,
        request: HttpRequest,
        stream: bool = False,
        deadline: float | None = None,
        send_by: float | None = None,
    ) -> Any:
        pacing = self._pacing(request, stream, send_by)
        content = b""
        try:
            if pacing is not None:
                for pause in pacing.pauses():
                    await asyncio.sleep(pause)
            response = await self._http.send(
                self._request(self._http, request, stream, deadline), auth=self._auth, stream=True
            )
            if response.status_code >= 400 or not stream:
                try:
                    content = await self._read(response, request, deadline)
                finally:
                    await response.aclose()
        except httpx.HTTPError as exc:
            raise self._failed(exc, request)  # noqa: B904 (chained to a scrubbed copy: _errors)
        finally:
            if pacing is not None:
                pacing.release()
        error = self._refused(response, content, request) if response.status_code >= 400 else None
        if pacing is not None:
            pacing.answered(response, error)
        if error is not None:
            raise error
        log.debug("%s %s -> %d", request.method, request.kind, response.status_code)
        if not stream:
            return self._reply(response, content)
        events = EventSource(response).aiter_sse() if self._is_sse(response) else None
        return Stream(response, request, events)

    async def _read(
        self, response: httpx.Response, request: HttpRequest, deadline: float | None
    ) -> bytes:
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            self._bounded(len(body), request, deadline)
        return self._scrubbed(body)

    async def _receive(self, stream: Stream, deadline: float | None) -> str | flows.Whole | None:
        left = self._late(deadline, stream.request)
        try:
            if stream.events is None:
                if stream.whole_read:
                    return None
                stream.whole_read = True
                return flows.Whole(await self._read(stream.response, stream.request, None))
            sse = await anext_sse(stream, left)
        except httpx.HTTPError as exc:
            raise self._failed(exc, stream.request)  # noqa: B904 (a scrubbed copy is its cause)
        self._late(deadline, stream.request)
        return None if sse is None else self._data(sse.data)

    async def _fetch(
        self, request: HttpRequest, target: Path, expect: str | None, hops: int = 0
    ) -> Path:
        stream = await self._send(request, stream=True)
        file = Download(self, stream.response, target, expect)
        try:
            if file.refused():
                body = await self._read(stream.response, request, None)
                found = file.link_in(body) if hops == 0 else None
                if found is None:
                    raise file.not_a_video(body)
                await stream.response.aclose()
                return await self._fetch(found, target, expect, hops + 1)
            with file:
                async for chunk in stream.response.aiter_raw():
                    file.write(chunk)
            return file.settled()
        except httpx.HTTPError as exc:
            raise self._failed(exc, request)  # noqa: B904 (chained to a scrubbed copy: _errors)
        finally:
            await stream.response.aclose()
            file.discard()

    async def _steps(self, flow: flows.Flow, result: list[Any]) -> AsyncIterator[RunEvent]:
        """Perform ``flow``'s steps, yielding each event it emits; its value goes in ``result``."""
        streams: list[Stream] = []
        value: Any = None
        error: BaseException | None = None
        try:
            while True:
                try:
                    step = flow.throw(error) if error is not None else flow.send(value)
                except StopIteration as stop:
                    result.append(stop.value)
                    return
                value, error = None, None
                try:
                    if isinstance(step, flows.Send):
                        value = await self._send(
                            step.request, step.stream, step.deadline, step.send_by
                        )
                        if step.stream:
                            streams.append(value)
                    elif isinstance(step, flows.Receive):
                        value = await self._receive(step.stream, step.deadline)
                    elif isinstance(step, flows.Fetch):
                        value = await self._fetch(step.request, step.target, step.expect)
                    elif isinstance(step, flows.Sleep):
                        await asyncio.sleep(step.seconds)
                    else:
                        yield step.event
                except E.SoraError as exc:
                    error = exc
        finally:
            flow.close()
            for stream in streams:
                await stream.response.aclose()

    async def _run(self, flow: flows.Flow, listener: OnEvent | None = None) -> Any:
        result: list[Any] = []
        steps = self._steps(flow, result)
        try:
            async for event in steps:
                if listener is not None:
                    await acall(listener, event)
        finally:
            await steps.aclose()
        return result[0]

    # -- videos -----------------------------------------------------------------------------------

    async def create_video(
        self,
        prompt: str,
        *,
        model: str | None = None,
        images: Iterable[str] = (),
        orientation: str | None = None,
        size: str | None = None,
        duration: float | None = None,
        dialect: str | Dialect | None = None,
        **extra: Any,
    ) -> Job:
        """Submit a video job and return it at once (status ``queued`` most often).

        Checked against the model's rules first; a bad combination raises ValidationError and
        nothing is sent. ``images`` are URLs or local files; ``extra`` passes through.
        """
        prepared = self.prepare(
            prompt, model=model, images=images, orientation=orientation, size=size,
            duration=duration, dialect=dialect, extra=extra,
        )  # fmt: skip
        return await self._run(self._create_flow(prepared), self._listener(params=prepared.params))

    async def get_job(self, job_id: str, *, dialect: str | Dialect | None = None) -> Job:
        """The job's current state, asked once."""
        return await self._run(self._get_job_flow(job_id, dialect))

    async def wait(
        self,
        job: Job | str,
        *,
        timeout: float | None = 900.0,
        on_update: OnUpdate | None = None,
        poll_interval: float | None = None,
    ) -> Job:
        """Poll until the job completes; raises GenerationFailed or PollTimeout otherwise.

        ``on_update(job)`` is called on every change (status, progress, link).
        """
        flow = self._wait_flow(job, timeout, poll_interval)
        return await self._run(flow, self._listener(on_update))

    async def generate_video(
        self,
        prompt: str,
        *,
        model: str | None = None,
        images: Iterable[str] = (),
        orientation: str | None = None,
        size: str | None = None,
        duration: float | None = None,
        dialect: str | Dialect | None = None,
        timeout: float | None = 900.0,
        on_update: OnUpdate | None = None,
        **extra: Any,
    ) -> Job:
        """Create a job and wait for it, on any dialect (for ``chat``, from the stream)."""
        prepared = self.prepare(
            prompt, model=model, images=images, orientation=orientation, size=size,
            duration=duration, dialect=dialect, timeout=timeout, extra=extra,
        )  # fmt: skip
        return (await self.run_video(prepared, on_update=on_update)).job

    async def run_video(
        self,
        prepared: PreparedVideo | None = None,
        *,
        out_dir: str | os.PathLike[str] | None = None,
        resume: Job | None = None,
        timeout: float | None = 900.0,
        on_event: OnEvent | None = None,
        on_update: OnUpdate | None = None,
    ) -> Outcome:
        """The whole lifecycle of one video (``runs.video``): create (or stream), wait, and
        download into ``out_dir`` when given; or finish ``resume``, a job already submitted,
        waiting at most ``timeout`` (a prepared request carries its own).

        ``prepared`` comes from :meth:`prepare`. ``on_event`` hears every typed event
        (``sora_nb.events``); ``on_update`` the job of each submit and change.
        """
        listener = self._listener(on_update, on_event, prepared.params if prepared else None)
        folder = Path(out_dir) if out_dir is not None else None
        return await self._run(self._video_flow(prepared, folder, resume, timeout), listener)

    async def download(
        self,
        job: Job,
        dest: str | os.PathLike[str] = ".",
        *,
        variant: str = "video",
        filename: str | None = None,
    ) -> Path:
        """Stream the video to ``dest`` (a folder, or a file path); returns the file's Path.

        Written under a temporary name and renamed when complete: a failed download leaves
        nothing half-written behind. The key goes only to the gateway's own origin.
        """
        flow = self._download_flow(job, dest, variant, filename)
        return await self._run(flow, self._listener())

    async def list_videos(
        self, *, after: str | None = None, limit: int | None = None, order: str | None = None
    ) -> list[Job]:
        """One page of videos from ``GET /videos`` (the openai dialect's endpoint)."""
        return await self._run(self._list_flow(after, limit, order))

    async def delete_video(self, job_id: str, *, dialect: str | Dialect | None = None) -> None:
        """``DELETE /videos/{id}`` (the openai dialect's endpoint, or ``dialect``'s own)."""
        await self._run(self._delete_flow(job_id, dialect))

    async def remix_video(self, job_id: str, prompt: str) -> Job:
        """``POST /videos/{id}/remix``: a new job from a finished one and a new prompt."""
        return await self._run(self._remix_flow(job_id, prompt), self._listener())

    # -- chat and images ------------------------------------------------------------------------

    def stream_chat(
        self, messages: Messages, *, model: str | None = None, **params: Any
    ) -> AsyncIterator[ChatEvent]:
        """Stream a chat answer: one ChatEvent per piece of text as it arrives.

        Raises StreamInterrupted (keeping the text so far) if the stream ends early.
        """
        return self._texts(self._stream_flow(messages, model, params))

    async def _texts(self, flow: flows.Flow) -> AsyncIterator[ChatEvent]:
        steps = self._steps(flow, [])
        try:
            async for event in steps:
                if isinstance(event, Text):
                    yield event.event
        finally:
            await steps.aclose()

    async def chat(
        self, messages: Messages, *, model: str | None = None, **params: Any
    ) -> ChatEvent:
        """A whole (non-streamed) chat answer."""
        return await self._run(self._chat_flow(messages, model, params))

    async def generate_images(
        self,
        prompt: str,
        *,
        model: str | None = "dall-e-3",
        n: int = 1,
        size: str | None = "1024x1024",
        **params: Any,
    ) -> list[ImageResult]:
        """Images from ``POST /images/generations``."""
        return await self._run(self._images_flow(prompt, model, n, size, params))

    # -- the key's balance ------------------------------------------------------------------------

    async def balance(self, *, timeout: float | None = 10.0) -> billing.Balance:
        """What the relay says the key has left (``GET /dashboard/billing/subscription`` and
        ``/usage``, served by one-api and new-api): see ``sora_nb.billing``. NotFoundError where
        the relay serves no such route."""
        return await self._run(billing.flow(self.ctx, timeout=timeout))
