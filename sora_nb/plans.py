"""What each client call sends and how its answer is read, shared by both clients. No I/O.

:class:`ClientCore` holds the configuration and turns every public call into a flow (see
``flows``); ``client.py`` only runs flows. Reading a local reference image is the one exception:
it is checked here, before anything is sent.
"""

from __future__ import annotations

import mimetypes
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import _errors, flows
from . import _exceptions as E
from ._secret import Secret
from .capabilities import validate_video_request
from .config import DEFAULT_MODEL, resolve_api_key, resolve_base_url, resolve_dialect
from .dialects import HttpRequest, ImageFile, ImageRef, chat, images, openai, unified
from .dialects.chat import ChatStreamState
from .journal import Journal
from .models import Job, VideoRequest
from .polling import PollSchedule
from .retry import RetryPolicy

MAX_IMAGE_BYTES = 50 << 20
_IMAGE_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_MEDIA_SUFFIXES = (".mp4", ".webm", ".mov", ".webp", ".jpg", ".jpeg", ".png", ".gif")


def _image_mime(data: bytes) -> str | None:
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
    mime = _image_mime(data)
    if mime is None:
        raise E.ValidationError(f"reference image {text!r} is not a PNG, JPEG, WebP or GIF image")
    return ImageFile(name=path.name, data=data, mime=mime)


def _images(images: Iterable[str] | str | None) -> tuple[str, ...]:
    """``images`` as a tuple: one URL or path given alone is one image, not its characters."""
    if images is None:
        return ()
    if isinstance(images, str | os.PathLike):
        return (os.fspath(images),)
    return tuple(images)


def _check_id(job_id: object) -> None:
    if not isinstance(job_id, str) or not job_id.strip():
        raise E.ValidationError(f"a job id is needed, not {job_id!r}")


def safe_filename(name: str, default: str = "video") -> str:
    """A file name from an id: no separators, no leading dots, bounded length."""
    cleaned = _SAFE_NAME.sub("_", name).strip("._-")[:120]
    return cleaned or default


def temp_name(target: Path) -> Path:
    """Where a download is written until it is complete (then renamed to ``target``)."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")


def interrupted(state: ChatStreamState, cause: E.SoraError | None) -> E.StreamInterrupted:
    """The error for a stream that ended early: it keeps the text and the task id seen."""
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


class ClientCore:
    """Configuration, and every call as a flow. Both clients inherit it; neither adds logic."""

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
        journal: Journal | bool | None = None,
    ) -> None:
        self.base_url = resolve_base_url(base_url)
        self.dialect = resolve_dialect(dialect)
        self._key = Secret(resolve_api_key(api_key))
        self.model = model
        for name, value in (
            ("timeout", timeout),
            ("stream_timeout", stream_timeout),
            ("poll_interval", poll_interval),
            ("max_poll_interval", max_poll_interval),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise E.ConfigError(f"{name} must be a positive number of seconds, not {value!r}")
        if max_poll_interval < poll_interval:
            raise E.ConfigError("max_poll_interval must be at least poll_interval")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise E.ConfigError(f"retries must be a whole number >= 0, not {retries!r}")
        if not isinstance(verify, bool):
            raise E.ConfigError("verify must be True or False (turn TLS checks off by name)")
        self.timeout = float(timeout)
        self.stream_timeout = float(stream_timeout)
        self.poll_interval = float(poll_interval)
        self.max_poll_interval = float(max_poll_interval)
        self.retry_policy = RetryPolicy(attempts=retries + 1)
        self.verify = verify
        self._clock = clock
        # journal=True: the per-user journal the magics use; a Journal: that one; else none.
        self.journal = Journal() if journal is True else journal or None
        self._journaled_ids: set[str] = set()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, dialect={self.dialect!r}, "
            f"api_key={self._key!r})"
        )

    @property
    def has_key(self) -> bool:
        return bool(self._key)

    def _url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path}"

    def _secrets(self) -> tuple[Secret]:
        return (self._key,)

    def _load(self, reply: flows.Reply, what: str) -> Any:
        return _errors.load_json(reply.content, what=what, secrets=self._secrets())

    # -- videos -----------------------------------------------------------------------------------

    def _video_dialect(self, dialect: str | None) -> str:
        return resolve_dialect(dialect or self.dialect)

    def _job_parser(
        self,
        dialect: str,
        *,
        prompt: str | None = None,
        model: str | None = None,
        seconds: float | None = None,
    ) -> Callable[[flows.Reply], Job]:
        module = openai if dialect == "openai" else unified

        def parse(reply: flows.Reply) -> Job:
            body = self._load(reply, "reading the video job")
            job = module.parse_job(body, reply.headers, prompt=prompt, model=model)
            # Some answers leave out what was asked for; the request still knows it.
            return replace(job, seconds=seconds) if job.seconds is None and seconds else job

        return parse

    def _create_flow(
        self,
        prompt: str,
        model: str | None,
        images: Iterable[str],
        orientation: str | None,
        size: str | None,
        duration: float | None,
        dialect: str | None,
        extra: Mapping[str, Any],
    ) -> flows.Flow:
        dialect = self._video_dialect(dialect)
        if dialect == "chat":
            raise E.ValidationError(
                "the chat dialect makes a video in one streamed answer: use generate_video()"
            )
        request = validate_video_request(
            VideoRequest(
                prompt=prompt,
                model=model or self.model,
                orientation=orientation,
                size=size,
                duration=duration,
                images=_images(images),
                extra=extra,
            ),
            dialect,
        )
        refs = [load_image(i) for i in request.images]
        module = openai if dialect == "openai" else unified
        parse = self._job_parser(
            dialect, prompt=request.prompt, model=request.model, seconds=request.duration
        )
        return flows.created(
            flows.call(module.build_create(request, refs), self.retry_policy, parse)
        )

    def _journaled(self, on_update: Any = None) -> Any:
        """``on_update``, preceded by a journal write when the client keeps a journal: a job is
        recorded when it is first seen (right after its create, before any wait), then updated."""
        if self.journal is None:
            return on_update

        def hook(job: Job) -> Any:
            if job.id:
                if job.id in self._journaled_ids:
                    self.journal.update(self.base_url, job)  # type: ignore[union-attr]
                else:
                    self.journal.record(self.base_url, job)  # type: ignore[union-attr]
                    self._journaled_ids.add(job.id)
            return on_update(job) if on_update is not None else None

        return hook

    def _journal_file(self, job: Job, path: Path) -> None:
        if self.journal is not None and job.id:
            self.journal.update(self.base_url, job, path=path.resolve())

    def _get_job_flow(self, job_id: str, dialect: str | None) -> flows.Flow:
        _check_id(job_id)
        dialect = self._video_dialect(dialect)
        if dialect == "chat":
            raise E.ValidationError("the chat dialect has no status endpoint")
        request = (
            openai.build_retrieve(job_id) if dialect == "openai" else unified.build_query(job_id)
        )
        return flows.call(request, self.retry_policy, self._job_parser(dialect))

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
        return flows.wait(
            job_id,
            dialect=openai if dialect == "openai" else unified,
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

    def _generate_flow(
        self,
        prompt: str,
        model: str | None,
        images: Iterable[str],
        orientation: str | None,
        size: str | None,
        duration: float | None,
        dialect: str,
        timeout: float | None,
        extra: Mapping[str, Any],
    ) -> flows.Flow:
        create = self._create_flow(
            prompt, model, images, orientation, size, duration, dialect, extra
        )
        return flows.generate(create, lambda job: self._wait_flow(job, timeout, None))

    def _chat_video_check(
        self,
        prompt: str,
        model: str | None,
        images: Iterable[str],
        orientation: str | None,
        size: str | None,
        duration: float | None,
    ) -> flows.ChatVideoTracker:
        validate_video_request(
            VideoRequest(prompt, model or self.model, orientation, size, duration, _images(images)),
            "chat",
        )
        return flows.ChatVideoTracker(model=model or self.model, prompt=prompt)

    def _download_flow(
        self, job: Job, dest: str | os.PathLike[str], variant: str, filename: str | None
    ) -> flows.Flow:
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
        folder = Path(dest)
        if filename is None and folder.suffix.lower() in _MEDIA_SUFFIXES:
            folder, filename = folder.parent, folder.name
        if filename:
            name = safe_filename(filename)
        else:
            guessed = mimetypes.guess_type(urlsplit(url or "").path)[0]
            ext = (
                ".mp4"
                if variant == "video"
                else (mimetypes.guess_extension(guessed or "") or ".webp")
            )
            suffix = "" if variant == "video" else f".{variant}"
            name = safe_filename(job.id or "video") + suffix + ext
        target = folder / name
        if target.resolve().parent != folder.resolve():
            raise E.ValidationError(f"file name {name!r} escapes the folder {str(folder)!r}")
        return flows.download(request, target, self.retry_policy)

    def _list_flow(self, after: str | None, limit: int | None, order: str | None) -> flows.Flow:
        return flows.call(
            openai.build_list(after=after, limit=limit, order=order),
            self.retry_policy,
            lambda r: openai.parse_list(self._load(r, "listing videos"))[0],
        )

    def _delete_flow(self, job_id: str) -> flows.Flow:
        _check_id(job_id)
        return flows.call(openai.build_delete(job_id), self.retry_policy, lambda r: None)

    def _remix_flow(self, job_id: str, prompt: str) -> flows.Flow:
        _check_id(job_id)
        return flows.call(
            openai.build_remix(job_id, prompt),
            self.retry_policy,
            self._job_parser("openai", prompt=prompt),
        )

    # -- chat and images --------------------------------------------------------------------------

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

    def _chat_flow(
        self,
        messages: str | Sequence[Mapping[str, Any]],
        model: str | None,
        params: Mapping[str, Any],
    ) -> flows.Flow:
        return flows.call(
            self._chat_request(messages, model, False, params),
            self.retry_policy,
            lambda r: chat.parse_chat_completion(self._load(r, "reading the chat answer")),
        )

    def _images_flow(
        self, prompt: str, model: str | None, n: int, size: str | None, params: Mapping[str, Any]
    ) -> flows.Flow:
        request = images.build_generate(prompt, model=model, n=n, size=size, **params)
        return flows.call(
            request,
            self.retry_policy,
            lambda r: images.parse_images(self._load(r, "generating images")),
        )

    def _stream_event(self, state: ChatStreamState, data: str) -> Any:
        """One SSE payload into ``state``; a mid-stream error keeps the text so far."""
        try:
            return state.feed(data)
        except E.ProtocolError as exc:
            raise interrupted(state, exc) from None

    def _whole_answer(self, content: bytes, state: ChatStreamState) -> Any:
        """Some relays ignore ``stream: true`` and answer with one JSON object."""
        body = _errors.load_json(content, what="reading the chat answer", secrets=self._secrets())
        state.__dict__.update(chat.completion_state(body).__dict__)
        return state.event(state.text, body)
