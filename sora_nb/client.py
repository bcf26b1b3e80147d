"""The gateway client: :class:`AsyncClient` and its synchronous face :class:`Client`.

All protocol logic lives in pure modules (``dialects``, ``flows``, ``polling``, ``retry``); the two
classes here differ only in how they perform a step (httpx.Client vs httpx.AsyncClient,
time.sleep vs asyncio.sleep), so each public method is a few lines in each twin.

>>> client = Client(base_url="https://relay.example/v1", api_key="sk-…")   # doctest: +SKIP
>>> job = client.generate_video("a paper boat on a pond", model="sora-2")  # doctest: +SKIP
>>> client.download(job, "videos/")                                        # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import mimetypes
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from httpx_sse import EventSource

from . import _errors, flows
from . import _exceptions as E
from ._secret import Secret
from .capabilities import validate_video_request
from .config import DEFAULT_MODEL, resolve_api_key, resolve_base_url, resolve_dialect
from .dialects import HttpRequest, ImageFile, ImageRef, chat, images, openai, unified
from .dialects.chat import ChatStreamState
from .models import ChatEvent, ImageResult, Job, VideoRequest
from .polling import PollSchedule
from .retry import RetryPolicy

__all__ = ["AsyncClient", "Client"]

log = logging.getLogger("sora_nb")

CHUNK = 1 << 20  # download chunk: memory stays flat whatever the file size
MAX_IMAGE_BYTES = 50 << 20
_IMAGE_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
OnUpdate = Callable[[Job], Any]


def _origin(url: httpx.URL | str) -> tuple[str, str, int | None]:
    u = httpx.URL(str(url))
    return (u.scheme, u.host, u.port or {"http": 80, "https": 443}.get(u.scheme))


class _GatewayAuth(httpx.Auth):
    """Bearer auth for the gateway's origin only: video CDNs never see the key.

    httpx applies auth to the first request of a redirect chain and drops Authorization when a
    redirect changes origin, so a gateway redirecting to its CDN does not leak it either.
    """

    def __init__(self, key: Secret, base_url: str) -> None:
        self._key = key
        self._origin = _origin(base_url)

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        if self._key and _origin(request.url) == self._origin:
            request.headers["Authorization"] = f"Bearer {self._key.reveal()}"
        yield request

    def __repr__(self) -> str:
        return "_GatewayAuth(***)"


@dataclass(frozen=True)
class _DownloadPlan:
    request: HttpRequest
    target: Path


def _image_mime(data: bytes, name: str) -> str | None:
    for magic, mime in _IMAGE_MAGIC.items():
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def load_image(ref: str | os.PathLike[str]) -> ImageRef:
    """A reference image: URLs pass as they are, local files are read and checked to be images."""
    text = os.fspath(ref)
    if text.startswith(("http://", "https://", "data:image/")):
        return text
    if "://" in text:
        raise E.ValidationError(f"reference image {text!r}: only http(s) URLs or local files")
    path = Path(text).expanduser()
    if not path.is_file():
        raise E.ValidationError(f"reference image {text!r} is neither an http(s) URL nor a file")
    size = path.stat().st_size
    if size > MAX_IMAGE_BYTES:
        raise E.ValidationError(f"reference image {text!r} is {size >> 20} MiB; the limit is 50")
    data = path.read_bytes()
    mime = _image_mime(data, path.name)
    if mime is None:
        raise E.ValidationError(f"reference image {text!r} is not a PNG, JPEG, WebP or GIF image")
    return ImageFile(name=path.name, data=data, mime=mime)


def safe_filename(name: str, default: str = "video") -> str:
    """A file name from an id: no separators, no leading dots, bounded length."""
    cleaned = _SAFE_NAME.sub("_", name).strip("._-")[:120]
    return cleaned or default


class _ClientBase:
    """Configuration and the request plans both clients share. No I/O."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        dialect: str | None = None,
        *,
        model: str = DEFAULT_MODEL,
        timeout: float = 60.0,
        stream_timeout: float = 900.0,
        poll_interval: float = 1.0,
        max_poll_interval: float = 30.0,
        retries: int = 4,
        verify: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = resolve_base_url(base_url)
        self.dialect = resolve_dialect(dialect)
        self._key = Secret(resolve_api_key(api_key))
        self.model = model
        for name, value in (
            ("timeout", timeout),
            ("stream_timeout", stream_timeout),
            ("poll_interval", poll_interval),
        ):
            if not isinstance(value, int | float) or not value > 0:
                raise E.ConfigError(f"{name} must be a positive number of seconds, not {value!r}")
        if max_poll_interval < poll_interval:
            raise E.ConfigError("max_poll_interval must be at least poll_interval")
        if not isinstance(retries, int) or retries < 0:
            raise E.ConfigError(f"retries must be a whole number >= 0, not {retries!r}")
        self.poll_interval = float(poll_interval)
        self.max_poll_interval = float(max_poll_interval)
        self.retry_policy = RetryPolicy(attempts=retries + 1)
        self.verify = verify
        self._clock = clock
        self._timeout = httpx.Timeout(timeout, connect=min(10.0, timeout))
        self._stream_timeout = httpx.Timeout(stream_timeout, connect=min(10.0, timeout))
        self._auth = _GatewayAuth(self._key, self.base_url)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, dialect={self.dialect!r}, "
            f"api_key={self._key!r})"
        )

    @property
    def has_key(self) -> bool:
        return bool(self._key)

    # -- pure plans -----------------------------------------------------------------------------

    def _http_kwargs(self) -> dict[str, Any]:
        return {
            "timeout": self._timeout,
            "verify": self.verify,
            "follow_redirects": True,
            "headers": {"User-Agent": "sora_nb", "Accept": "application/json"},
        }

    def _url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path}"

    def _secrets(self) -> tuple[Secret]:
        return (self._key,)

    def _video_dialect(self, dialect: str | None) -> str:
        return resolve_dialect(dialect or self.dialect)

    def _create_request(
        self,
        prompt: str,
        *,
        model: str | None,
        images: Iterable[str],
        orientation: str | None,
        size: str | None,
        duration: float | None,
        dialect: str,
        extra: Mapping[str, Any],
    ) -> tuple[HttpRequest, Any]:
        request = validate_video_request(
            VideoRequest(
                prompt=prompt,
                model=model or self.model,
                orientation=orientation,
                size=size,
                duration=duration,
                images=tuple(images),
                extra=extra,
            ),
            dialect,
        )
        refs = [load_image(i) for i in request.images]
        module = openai if dialect == "openai" else unified
        return module.build_create(request, refs), request

    def _job_parser(
        self,
        dialect: str,
        *,
        prompt: str | None = None,
        model: str | None = None,
        seconds: float | None = None,
    ) -> Callable[[flows.Reply], Job]:
        module = openai if dialect == "openai" else unified
        what = "reading the video job"

        def parse(reply: flows.Reply) -> Job:
            body = _errors.load_json(reply.content, what=what, secrets=self._secrets())
            job = module.parse_job(body, reply.headers, prompt=prompt, model=model)
            # Some answers leave out what was asked for; the request still knows it.
            return replace(job, seconds=seconds) if job.seconds is None and seconds else job

        return parse

    def _json_parser(self, parse: Callable[[Any], Any], what: str) -> Callable[[flows.Reply], Any]:
        return lambda reply: parse(
            _errors.load_json(reply.content, what=what, secrets=self._secrets())
        )

    def _wait_flow(
        self, job: Job | str, timeout: float | None, poll_interval: float | None
    ) -> flows.Flow:
        job_id, dialect, last = (
            (job.id, job.dialect, job) if isinstance(job, Job) else (str(job), self.dialect, None)
        )
        if not job_id:
            raise E.ValidationError("no job id to wait for")
        if dialect == "chat":
            raise E.ValidationError(
                "jobs made through the chat dialect have no status endpoint; their stream is "
                "the job (ask the gateway with dialect='unified' if it serves /video/query)"
            )
        interval = self.poll_interval if poll_interval is None else float(poll_interval)
        if not interval > 0:
            raise E.ValidationError(f"poll_interval must be positive, not {poll_interval!r}")
        module = openai if dialect == "openai" else unified
        return flows.wait(
            job_id,
            dialect=module,
            policy=self.retry_policy,
            schedule=PollSchedule(
                min_interval=interval, max_interval=max(interval, self.max_poll_interval)
            ),
            clock=self._clock,
            timeout=timeout,
            parse=self._job_parser(
                dialect,
                prompt=last.prompt if last else None,
                model=last.model if last else None,
                seconds=last.seconds if last else None,
            ),
            last=last,
        )

    def _chat_request(
        self,
        messages: str | Sequence[Mapping[str, Any]],
        model: str | None,
        stream: bool,
        params: Mapping[str, Any],
    ) -> HttpRequest:
        if isinstance(messages, str):
            if not messages.strip():
                raise E.ValidationError("the message is empty")
            messages = [{"role": "user", "content": messages}]
        if not messages:
            raise E.ValidationError("no messages to send")
        for m in messages:
            if not isinstance(m, Mapping) or "role" not in m or "content" not in m:
                raise E.ValidationError(f"each message needs a 'role' and 'content', got {m!r}")
        return chat.build_chat(messages, model=model or self.model, stream=stream, **params)

    def _download_plan(
        self, job: Job, dest: str | os.PathLike[str], variant: str, filename: str | None
    ) -> _DownloadPlan:
        if not isinstance(job, Job):
            raise E.ValidationError("download() takes a Job (from wait/generate_video)")
        if variant not in openai.VARIANTS:
            raise E.ValidationError(f"variant {variant!r} is not one of video, thumbnail")
        url = job.video_url if variant == "video" else job.thumbnail_url
        if job.dialect == "openai" and (variant != "video" or not url):
            request = openai.build_content(job.id, variant)
        elif url:
            if urlsplit(url).scheme not in ("http", "https"):
                raise E.ProtocolError(f"refusing to download from a non-http(s) link: {url[:80]!r}")
            request = HttpRequest("GET", url, "content")
        else:
            raise E.ValidationError(
                f"job {job.id} has no {variant} to download (status {job.status})"
            )
        ext = (
            ".mp4"
            if variant == "video"
            else (mimetypes.guess_extension(mimetypes.guess_type(url or "")[0] or "") or ".webp")
        )
        folder = Path(dest)
        if filename is None and folder.suffix.lower() in (
            ".mp4",
            ".webm",
            ".mov",
            ".webp",
            ".jpg",
            ".png",
        ):
            folder, filename = folder.parent, folder.name
        name = (
            safe_filename(filename)
            if filename
            else safe_filename(job.id or "video")
            + ("" if variant == "video" else f".{variant}")
            + ext
        )
        target = folder / name
        if target.resolve().parent != folder.resolve():
            raise E.ValidationError(f"file name {name!r} escapes the folder {str(folder)!r}")
        return _DownloadPlan(request=request, target=target)

    def _interrupted(
        self, state: ChatStreamState, cause: E.SoraError | None
    ) -> E.StreamInterrupted:
        scanner = state.scanner
        scanner.close()
        tail = f" ({cause})" if cause else ""
        hint = f"; the video task id was {scanner.task_id}" if scanner.task_id else ""
        return E.StreamInterrupted(
            f"the stream ended early, after {len(state.text)} characters{hint}{tail}",
            text=state.text,
            task_id=scanner.task_id,
            video_urls=tuple(scanner.video_urls),
        )

    def _temp_for(self, target: Path) -> Path:
        return target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")

    def _check_length(self, response: httpx.Response, written: int) -> None:
        expected = response.headers.get("content-length")
        if (
            expected is not None
            and expected.isdigit()
            and int(expected) != written
            and "content-encoding" not in response.headers
        ):
            raise E.TransportError(f"the download stopped at {written} of {expected} bytes")


def _reply(response: httpx.Response) -> flows.Reply:
    return flows.Reply(response.status_code, response.headers, response.content)


class Client(_ClientBase):
    """Synchronous client. Every method blocks until its answer is in.

    ``Client(base_url=None, api_key=None, dialect=None)`` reads ``SORA_BASE_URL``,
    ``SORA_API_KEY`` and ``SORA_DIALECT`` for what is not given.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        dialect: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        **options: Any,
    ) -> None:
        super().__init__(base_url, api_key, dialect, **options)
        self._http = httpx.Client(transport=transport, **self._http_kwargs())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the driver -----------------------------------------------------------------------------

    def _send(self, request: HttpRequest, stream: bool) -> flows.Reply | httpx.Response:
        what = flows.describe(request)
        try:
            response = self._http.send(
                self._http.build_request(
                    request.method,
                    self._url(request.path),
                    params=request.params,
                    json=request.json,
                    data=request.data,
                    files=request.files,
                    timeout=self._stream_timeout if stream else self._timeout,
                ),
                auth=self._auth,
                stream=True,
            )
        except httpx.HTTPError as exc:
            raise _errors.from_transport(exc, what=what, secrets=self._secrets()) from exc
        try:
            if response.status_code >= 400 or not stream:
                response.read()
        except httpx.HTTPError as exc:
            response.close()
            raise _errors.from_transport(exc, what=what, secrets=self._secrets()) from exc
        if response.status_code >= 400:
            response.close()
            raise _errors.from_reply(
                response.status_code,
                response.headers,
                response.text,
                what=what,
                secrets=self._secrets(),
            )
        log.debug("%s %s -> %d", request.method, request.kind, response.status_code)
        return response if stream else _reply(response)

    def _run(self, flow: flows.Flow, on_update: OnUpdate | None = None) -> Any:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as stop:
                return stop.value
            value, error = None, None
            if isinstance(step, flows.Send):
                try:
                    value = self._send(step.request, step.stream)
                except E.SoraError as exc:
                    error = exc
            elif isinstance(step, flows.Sleep):
                time.sleep(step.seconds)
            elif on_update is not None:
                on_update(step.job)

    # -- videos ---------------------------------------------------------------------------------

    def create_video(
        self,
        prompt: str,
        *,
        model: str | None = None,
        images: Iterable[str] = (),
        orientation: str | None = None,
        size: str | None = None,
        duration: float | None = None,
        dialect: str | None = None,
        **extra: Any,
    ) -> Job:
        """Submit a video job and return it at once (status ``queued`` most often)."""
        dialect = self._video_dialect(dialect)
        if dialect == "chat":
            raise E.ValidationError(
                "the chat dialect makes a video in one streamed answer: use generate_video()"
            )
        request, req = self._create_request(
            prompt,
            model=model,
            images=images,
            orientation=orientation,
            size=size,
            duration=duration,
            dialect=dialect,
            extra=extra,
        )
        parse = self._job_parser(dialect, prompt=req.prompt, model=req.model, seconds=req.duration)
        return self._run(flows.call(request, self.retry_policy, parse))

    def get_job(self, job_id: str, *, dialect: str | None = None) -> Job:
        """The job's current state, asked once."""
        dialect = self._video_dialect(dialect)
        module = openai if dialect == "openai" else unified
        request = openai.build_retrieve(job_id) if module is openai else unified.build_query(job_id)
        return self._run(flows.call(request, self.retry_policy, self._job_parser(dialect)))

    def wait(
        self,
        job: Job | str,
        *,
        timeout: float | None = 900.0,
        on_update: OnUpdate | None = None,
        poll_interval: float | None = None,
    ) -> Job:
        """Poll until the job completes; raises GenerationFailed or PollTimeout otherwise."""
        return self._run(self._wait_flow(job, timeout, poll_interval), on_update)

    def generate_video(
        self,
        prompt: str,
        *,
        model: str | None = None,
        images: Iterable[str] = (),
        orientation: str | None = None,
        size: str | None = None,
        duration: float | None = None,
        dialect: str | None = None,
        timeout: float | None = 900.0,
        on_update: OnUpdate | None = None,
        **extra: Any,
    ) -> Job:
        """Create a job and wait for it, on any dialect (for ``chat``, from the stream)."""
        dialect = self._video_dialect(dialect)
        if dialect == "chat":
            validate_video_request(
                VideoRequest(
                    prompt, model or self.model, orientation, size, duration, tuple(images)
                ),
                "chat",
            )
            tracker = flows.ChatVideoTracker(model=model or self.model, prompt=prompt)
            state = ChatStreamState()
            for _ in self._stream(self._chat_request(prompt, model, True, extra), state):
                job = tracker.update(state)
                if job is not None and on_update is not None:
                    on_update(job)
            return tracker.result()
        job = self.create_video(
            prompt,
            model=model,
            images=images,
            orientation=orientation,
            size=size,
            duration=duration,
            dialect=dialect,
            **extra,
        )
        if on_update is not None:
            on_update(job)
        if job.status == "completed":
            return job
        return self.wait(job, timeout=timeout, on_update=on_update)

    def download(
        self,
        job: Job,
        dest: str | os.PathLike[str] = ".",
        *,
        variant: str = "video",
        filename: str | None = None,
    ) -> Path:
        """Stream the video to ``dest`` (a folder, or a file path); returns the file's Path.

        Written under a temporary name and renamed when complete: a failed download leaves
        nothing half-written behind.
        """
        plan = self._download_plan(job, dest, variant, filename)
        plan.target.parent.mkdir(parents=True, exist_ok=True)
        attempt = 0
        while True:
            attempt += 1
            tmp = self._temp_for(plan.target)
            try:
                response = self._run(flows.send(plan.request, self.retry_policy, stream=True))
                written = 0
                try:
                    with open(tmp, "wb") as fh:
                        for chunk in response.iter_bytes(CHUNK):
                            fh.write(chunk)
                            written += len(chunk)
                finally:
                    response.close()
                self._check_length(response, written)
                os.replace(tmp, plan.target)
                return plan.target
            except (httpx.HTTPError, E.TransportError) as exc:
                err = (
                    exc
                    if isinstance(exc, E.SoraError)
                    else _errors.from_transport(
                        exc, what="downloading the video", secrets=self._secrets()
                    )
                )
                delay = self.retry_policy.delay(err, attempt, creates=False)
                if delay is None:
                    raise err from exc
                time.sleep(delay)
            finally:
                tmp.unlink(missing_ok=True)

    def list_videos(
        self, *, after: str | None = None, limit: int | None = None, order: str | None = None
    ) -> list[Job]:
        """One page of videos from ``GET /videos`` (the openai dialect's endpoint)."""
        return self._run(
            flows.call(
                openai.build_list(after=after, limit=limit, order=order),
                self.retry_policy,
                self._json_parser(lambda b: openai.parse_list(b)[0], "listing videos"),
            )
        )

    def delete_video(self, job_id: str) -> None:
        """``DELETE /videos/{id}`` (the openai dialect's endpoint)."""
        self._run(flows.call(openai.build_delete(job_id), self.retry_policy, lambda r: None))

    def remix_video(self, job_id: str, prompt: str) -> Job:
        """``POST /videos/{id}/remix``: a new job from a finished one and a new prompt."""
        return self._run(
            flows.call(
                openai.build_remix(job_id, prompt),
                self.retry_policy,
                self._job_parser("openai", prompt=prompt),
            )
        )

    # -- chat and images -----------------------------------------------------------------------

    def stream_chat(
        self,
        messages: str | Sequence[Mapping[str, Any]],
        *,
        model: str | None = None,
        **params: Any,
    ) -> Iterator[ChatEvent]:
        """Stream a chat answer: one ChatEvent per piece of text as it arrives.

        Raises StreamInterrupted (keeping the text so far) if the stream ends early.
        """
        return self._stream(self._chat_request(messages, model, True, params), ChatStreamState())

    def _stream(self, request: HttpRequest, state: ChatStreamState) -> Iterator[ChatEvent]:
        response = self._run(flows.send(request, self.retry_policy, stream=True))
        try:
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                response.read()
                yield _whole_answer(self, response, state)
                return
            for sse in EventSource(response).iter_sse():
                event = _feed(self, state, sse.data)
                if event is not None:
                    yield event
                if state.done:
                    break
        except httpx.HTTPError as exc:
            raise self._interrupted(
                state,
                _errors.from_transport(
                    exc, what="reading the chat stream", secrets=self._secrets()
                ),
            ) from exc
        finally:
            response.close()
        if not state.complete:
            raise self._interrupted(state, None)

    def chat(
        self,
        messages: str | Sequence[Mapping[str, Any]],
        *,
        model: str | None = None,
        **params: Any,
    ) -> ChatEvent:
        """A whole (non-streamed) chat answer."""
        request = self._chat_request(messages, model, False, params)
        return self._run(
            flows.call(
                request,
                self.retry_policy,
                self._json_parser(chat.parse_chat_completion, "reading the chat answer"),
            )
        )

    def generate_images(
        self,
        prompt: str,
        *,
        model: str | None = "dall-e-3",
        n: int = 1,
        size: str | None = "1024x1024",
        **params: Any,
    ) -> list[ImageResult]:
        """Images from ``POST /images/generations``."""
        request = images.build_generate(prompt, model=model, n=n, size=size, **params)
        return self._run(
            flows.call(
                request,
                self.retry_policy,
                self._json_parser(images.parse_images, "generating images"),
            )
        )


def _feed(client: _ClientBase, state: ChatStreamState, data: str) -> ChatEvent | None:
    try:
        return state.feed(data)
    except E.ProtocolError as exc:
        raise client._interrupted(state, exc) from None


def _whole_answer(
    client: _ClientBase, response: httpx.Response, state: ChatStreamState
) -> ChatEvent:
    # Some relays ignore stream=true and answer with one JSON object.
    body = _errors.load_json(
        response.content, what="reading the chat answer", secrets=client._secrets()
    )
    whole = chat.completion_state(body)
    state.__dict__.update(whole.__dict__)
    return state.event(state.text, body)


class AsyncClient(_ClientBase):
    """The same methods as :class:`Client`, awaitable; ``stream_chat`` is an async iterator."""

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
        self._http = httpx.AsyncClient(transport=transport, **self._http_kwargs())

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the driver -----------------------------------------------------------------------------

    async def _send(self, request: HttpRequest, stream: bool) -> flows.Reply | httpx.Response:
        what = flows.describe(request)
        try:
            response = await self._http.send(
                self._http.build_request(
                    request.method,
                    self._url(request.path),
                    params=request.params,
                    json=request.json,
                    data=request.data,
                    files=request.files,
                    timeout=self._stream_timeout if stream else self._timeout,
                ),
                auth=self._auth,
                stream=True,
            )
        except httpx.HTTPError as exc:
            raise _errors.from_transport(exc, what=what, secrets=self._secrets()) from exc
        try:
            if response.status_code >= 400 or not stream:
                await response.aread()
        except httpx.HTTPError as exc:
            await response.aclose()
            raise _errors.from_transport(exc, what=what, secrets=self._secrets()) from exc
        if response.status_code >= 400:
            await response.aclose()
            raise _errors.from_reply(
                response.status_code,
                response.headers,
                response.text,
                what=what,
                secrets=self._secrets(),
            )
        log.debug("%s %s -> %d", request.method, request.kind, response.status_code)
        return response if stream else _reply(response)

    async def _run(self, flow: flows.Flow, on_update: OnUpdate | None = None) -> Any:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as stop:
                return stop.value
            value, error = None, None
            if isinstance(step, flows.Send):
                try:
                    value = await self._send(step.request, step.stream)
                except E.SoraError as exc:
                    error = exc
            elif isinstance(step, flows.Sleep):
                await asyncio.sleep(step.seconds)
            elif on_update is not None:
                await _call(on_update, step.job)

    # -- videos ---------------------------------------------------------------------------------

    async def create_video(
        self,
        prompt: str,
        *,
        model: str | None = None,
        images: Iterable[str] = (),
        orientation: str | None = None,
        size: str | None = None,
        duration: float | None = None,
        dialect: str | None = None,
        **extra: Any,
    ) -> Job:
        dialect = self._video_dialect(dialect)
        if dialect == "chat":
            raise E.ValidationError(
                "the chat dialect makes a video in one streamed answer: use generate_video()"
            )
        request, req = self._create_request(
            prompt,
            model=model,
            images=images,
            orientation=orientation,
            size=size,
            duration=duration,
            dialect=dialect,
            extra=extra,
        )
        parse = self._job_parser(dialect, prompt=req.prompt, model=req.model, seconds=req.duration)
        return await self._run(flows.call(request, self.retry_policy, parse))

    async def get_job(self, job_id: str, *, dialect: str | None = None) -> Job:
        dialect = self._video_dialect(dialect)
        request = (
            openai.build_retrieve(job_id) if dialect == "openai" else unified.build_query(job_id)
        )
        return await self._run(flows.call(request, self.retry_policy, self._job_parser(dialect)))

    async def wait(
        self,
        job: Job | str,
        *,
        timeout: float | None = 900.0,
        on_update: OnUpdate | None = None,
        poll_interval: float | None = None,
    ) -> Job:
        return await self._run(self._wait_flow(job, timeout, poll_interval), on_update)

    async def generate_video(
        self,
        prompt: str,
        *,
        model: str | None = None,
        images: Iterable[str] = (),
        orientation: str | None = None,
        size: str | None = None,
        duration: float | None = None,
        dialect: str | None = None,
        timeout: float | None = 900.0,
        on_update: OnUpdate | None = None,
        **extra: Any,
    ) -> Job:
        dialect = self._video_dialect(dialect)
        if dialect == "chat":
            validate_video_request(
                VideoRequest(
                    prompt, model or self.model, orientation, size, duration, tuple(images)
                ),
                "chat",
            )
            tracker = flows.ChatVideoTracker(model=model or self.model, prompt=prompt)
            state = ChatStreamState()
            async for _ in self._stream(self._chat_request(prompt, model, True, extra), state):
                job = tracker.update(state)
                if job is not None and on_update is not None:
                    await _call(on_update, job)
            return tracker.result()
        job = await self.create_video(
            prompt,
            model=model,
            images=images,
            orientation=orientation,
            size=size,
            duration=duration,
            dialect=dialect,
            **extra,
        )
        if on_update is not None:
            await _call(on_update, job)
        if job.status == "completed":
            return job
        return await self.wait(job, timeout=timeout, on_update=on_update)

    async def download(
        self,
        job: Job,
        dest: str | os.PathLike[str] = ".",
        *,
        variant: str = "video",
        filename: str | None = None,
    ) -> Path:
        plan = self._download_plan(job, dest, variant, filename)
        plan.target.parent.mkdir(parents=True, exist_ok=True)
        attempt = 0
        while True:
            attempt += 1
            tmp = self._temp_for(plan.target)
            try:
                response = await self._run(flows.send(plan.request, self.retry_policy, stream=True))
                written = 0
                try:
                    with open(tmp, "wb") as fh:
                        async for chunk in response.aiter_bytes(CHUNK):
                            fh.write(chunk)
                            written += len(chunk)
                finally:
                    await response.aclose()
                self._check_length(response, written)
                os.replace(tmp, plan.target)
                return plan.target
            except (httpx.HTTPError, E.TransportError) as exc:
                err = (
                    exc
                    if isinstance(exc, E.SoraError)
                    else _errors.from_transport(
                        exc, what="downloading the video", secrets=self._secrets()
                    )
                )
                delay = self.retry_policy.delay(err, attempt, creates=False)
                if delay is None:
                    raise err from exc
                await asyncio.sleep(delay)
            finally:
                tmp.unlink(missing_ok=True)

    async def list_videos(
        self, *, after: str | None = None, limit: int | None = None, order: str | None = None
    ) -> list[Job]:
        return await self._run(
            flows.call(
                openai.build_list(after=after, limit=limit, order=order),
                self.retry_policy,
                self._json_parser(lambda b: openai.parse_list(b)[0], "listing videos"),
            )
        )

    async def delete_video(self, job_id: str) -> None:
        await self._run(flows.call(openai.build_delete(job_id), self.retry_policy, lambda r: None))

    async def remix_video(self, job_id: str, prompt: str) -> Job:
        return await self._run(
            flows.call(
                openai.build_remix(job_id, prompt),
                self.retry_policy,
                self._job_parser("openai", prompt=prompt),
            )
        )

    # -- chat and images -----------------------------------------------------------------------

    def stream_chat(
        self,
        messages: str | Sequence[Mapping[str, Any]],
        *,
        model: str | None = None,
        **params: Any,
    ) -> AsyncIterator[ChatEvent]:
        """Stream a chat answer: an async iterator of ChatEvent."""
        return self._stream(self._chat_request(messages, model, True, params), ChatStreamState())

    async def _stream(
        self, request: HttpRequest, state: ChatStreamState
    ) -> AsyncIterator[ChatEvent]:
        response = await self._run(flows.send(request, self.retry_policy, stream=True))
        try:
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                await response.aread()
                yield _whole_answer(self, response, state)
                return
            async for sse in EventSource(response).aiter_sse():
                event = _feed(self, state, sse.data)
                if event is not None:
                    yield event
                if state.done:
                    break
        except httpx.HTTPError as exc:
            raise self._interrupted(
                state,
                _errors.from_transport(
                    exc, what="reading the chat stream", secrets=self._secrets()
                ),
            ) from exc
        finally:
            await response.aclose()
        if not state.complete:
            raise self._interrupted(state, None)

    async def chat(
        self,
        messages: str | Sequence[Mapping[str, Any]],
        *,
        model: str | None = None,
        **params: Any,
    ) -> ChatEvent:
        request = self._chat_request(messages, model, False, params)
        return await self._run(
            flows.call(
                request,
                self.retry_policy,
                self._json_parser(chat.parse_chat_completion, "reading the chat answer"),
            )
        )

    async def generate_images(
        self,
        prompt: str,
        *,
        model: str | None = "dall-e-3",
        n: int = 1,
        size: str | None = "1024x1024",
        **params: Any,
    ) -> list[ImageResult]:
        request = images.build_generate(prompt, model=model, n=n, size=size, **params)
        return await self._run(
            flows.call(
                request,
                self.retry_policy,
                self._json_parser(images.parse_images, "generating images"),
            )
        )


async def _call(callback: OnUpdate, job: Job) -> None:
    result = callback(job)
    if inspect.isawaitable(result):
        await result
