"""The gateway client: :class:`Client` and its awaitable twin :class:`AsyncClient`.

Every call is planned in ``plans.ClientCore`` as a flow (``flows``; videos through the one
lifecycle in ``runs``): the retries, polling, deadlines and journaling exist once. The twins below
only perform the flows' steps, with httpx.Client and time.sleep, or httpx.AsyncClient and
asyncio.sleep, so each public method is one line in each.

>>> client = Client(base_url="https://relay.example/v1", api_key="sk-…")   # doctest: +SKIP
>>> job = client.generate_video("a paper boat on a pond", model="sora-2")  # doctest: +SKIP
>>> client.download(job, "videos/")                                        # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import EventSource

from . import _errors, billing, budget, dialects, flows, probing
from . import _exceptions as E
from ._secret import Secret, scrub, scrub_bytes
from .config import DEFAULT_DIALECT
from .dialects import Dialect, HttpRequest
from .dialects._base import find_video_link, first, link
from .events import RunEvent, Text
from .files import load_image, media_kind, safe_filename, settle, temp_name
from .models import ChatEvent, ImageResult, Job
from .plans import ClientCore, OnEvent
from .retry import rate_limited
from .runs import Outcome, PreparedVideo

__all__ = ["AsyncClient", "Client", "load_image", "safe_filename"]

log = logging.getLogger("sora_nb")

# The largest answer read into memory (a status, an error, a chat answer): videos are streamed to
# disk instead. A gateway sending more is refused rather than allowed to fill the kernel's memory.
MAX_ANSWER_BYTES = 32 << 20

OnUpdate = Callable[[Job], Any]
Messages = str | Sequence[Mapping[str, Any]]


def _origin(url: httpx.URL | str) -> tuple[str, str, int | None]:
    u = httpx.URL(str(url))
    return (u.scheme, u.host, u.port or {"http": 80, "https": 443}.get(u.scheme))


class _GatewayAuth(httpx.Auth):
    """Bearer auth for the gateway's origin only: video CDNs never see the key.

    httpx applies auth to the first request of a redirect chain and drops Authorization when a
    redirect changes origin, so a gateway redirecting to its CDN does not leak it either.
    """

    def __init__(self, key: Secret, base_url: str, prefix: str = "Bearer ") -> None:
        self._key = key
        self.origin = _origin(base_url)
        self._prefix = prefix

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        if self._key and _origin(request.url) == self.origin:
            request.headers["Authorization"] = f"{self._prefix}{self._key.reveal()}"
        yield request

    def __repr__(self) -> str:
        return "_GatewayAuth(***)"


class _Transport(ClientCore):
    """What both twins share about httpx: the request, the error translation, the file."""

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        self.probe_result: probing.ProbeResult | None = None
        if self.dialect == probing.AUTO:
            # Ask the relay which families it serves (GETs only; cached per base URL).
            self.probe_result = probing.probe(self.base_url, self._key, verify=self.verify)
            self.dialect = self.probe_result.best() or DEFAULT_DIALECT
            log.info("dialect auto: %s", self.probe_result.line())
        prefix = dialects.get(self.dialect).auth_prefix
        self._auth = _GatewayAuth(self._key, self.base_url, prefix)

    def _http_options(self) -> dict[str, Any]:
        return {
            "timeout": httpx.Timeout(self.timeout, connect=min(10.0, self.timeout)),
            "verify": self.verify,
            "follow_redirects": True,
            "headers": {"User-Agent": "sora_nb", "Accept": "application/json"},
        }

    def _build(
        self,
        http: httpx.Client | httpx.AsyncClient,
        request: HttpRequest,
        stream: bool,
        deadline: float | None = None,
    ) -> httpx.Request:
        timeout = self.stream_timeout if stream else self.timeout
        if deadline is not None:
            # No single read may wait past the deadline either (the sync client cannot be
            # interrupted mid-read otherwise).
            timeout = max(0.001, min(timeout, deadline - self._clock()))
        return http.build_request(
            request.method,
            self._url(request.path),
            params=request.params,
            json=request.json,
            data=request.data,
            files=request.files,
            timeout=httpx.Timeout(timeout, connect=min(10.0, self.timeout)),
        )

    def _request(
        self,
        http: httpx.Client | httpx.AsyncClient,
        request: HttpRequest,
        stream: bool,
        deadline: float | None,
    ) -> httpx.Request:
        """The httpx request, or one line saying why it cannot be made (before anything is
        sent): a link from the gateway that is no valid URL."""
        try:
            return self._build(http, request, stream, deadline)
        except httpx.InvalidURL as exc:
            raise E.ProtocolError(
                f"cannot request {request.path[:80]!r} while {flows.describe(request)}: {exc}"
            ) from None

    def _pacing(self, request: HttpRequest, stream: bool, send_by: float | None) -> _Pacing | None:
        """The turn ``request`` takes in the budget of this gateway and key (None for another
        origin, a video CDN, which never sees the key). Its turn must come by ``send_by``
        (default: the client's timeout from now, a stream's for a stream); else TurnTimeout."""
        if _origin(self._url(request.path)) != self._auth.origin:
            return None
        now = self._clock()
        by = send_by
        if by is None:
            by = now + (self.stream_timeout if stream else self.timeout)
        turn = self.budget.reserve(now, by)
        if turn is None:
            raise _Pacing.late(request, self.budget.why_late(now))
        return _Pacing(self, request, turn, by)

    def _failed(self, exc: httpx.HTTPError, request: HttpRequest) -> E.SoraError:
        return _errors.from_transport(exc, what=flows.describe(request), secrets=self._secrets())

    def _refused(
        self, response: httpx.Response, content: bytes, request: HttpRequest
    ) -> E.SoraError:
        return _errors.from_reply(
            response.status_code,
            response.headers,
            content.decode(response.encoding or "utf-8", "replace"),
            what=flows.describe(request),
            secrets=self._secrets(),
        )

    def _scrubbed(self, body: bytearray) -> bytes:
        # Scrubbed as it arrives, before any caller holds it: a gateway that echoes the key (in
        # a failure reason, say) must not leave it in any value a traceback with locals shows.
        data = scrub_bytes(bytes(body), self._secrets())
        body.clear()
        return data

    def _reply(self, response: httpx.Response, content: bytes) -> flows.Reply:
        return flows.Reply(response.status_code, response.headers, content)

    def _bounded(self, size: int, request: HttpRequest, deadline: float | None) -> None:
        """An answer being read may not grow past MAX_ANSWER_BYTES, nor arrive past its
        deadline (checked as each piece arrives, so a drip-fed answer cannot stretch a wait)."""
        if size > MAX_ANSWER_BYTES:
            raise E.ProtocolError(
                f"the gateway's answer while {flows.describe(request)} passed "
                f"{MAX_ANSWER_BYTES >> 20} MiB; sora_nb stopped reading it"
            )
        if deadline is not None and self._clock() > deadline:
            raise E.TimeoutError(
                f"the gateway's answer while {flows.describe(request)} was still arriving "
                "when the time was up"
            )

    def _late(self, deadline: float | None, request: HttpRequest) -> float | None:
        """Seconds left before ``deadline``; TimeoutError once it has passed."""
        if deadline is None:
            return None
        left = deadline - self._clock()
        if left <= 0:
            raise E.TimeoutError(f"no answer in time while {flows.describe(request)}")
        return left

    def _not_a_video(self, response: httpx.Response, head: bytes) -> E.ProtocolError:
        kind = response.headers.get("content-type", "no content type").split(";")[0].strip()
        snippet = " ".join(
            scrub_bytes(head[:80], self._secrets()).decode("utf-8", "replace").split()
        )
        return E.ProtocolError(
            f"the video link answered {kind}, not a video (it begins {snippet[:60]!r}); "
            "nothing was saved"
        )

    @staticmethod
    def _textual(response: httpx.Response) -> bool:
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        return kind.startswith("text/") or kind.endswith("json") or kind.endswith("xml")

    @staticmethod
    def _check_length(response: httpx.Response, received: int) -> None:
        """``received`` raw bytes (before any decoding) against the Content-Length."""
        expected = response.headers.get("content-length")
        if expected is not None and expected.isdigit() and int(expected) != received:
            raise E.TransportError(f"the download stopped at {received} of {expected} bytes")

    @staticmethod
    def _is_sse(response: httpx.Response) -> bool:
        return response.headers.get("content-type", "").startswith("text/event-stream")

    def _data(self, data: str) -> str:
        # Stream text is scrubbed as it arrives, like whole answers: a relay that echoes the
        # key in an error chunk must not put it in any event, error or journal row.
        return scrub(data, self._secrets())


class _Pacing:
    """One request's turn in the gateway's budget, shared by both twins: the sleeps until it
    comes (``pauses``), then what the answer taught (``answered``)."""

    def __init__(
        self, transport: _Transport, request: HttpRequest, turn: budget.Turn, by: float
    ) -> None:
        self.transport, self.request, self.turn, self.by = transport, request, turn, by

    @staticmethod
    def late(request: HttpRequest, why: str) -> E.TurnTimeout:
        return E.TurnTimeout(
            f"no turn in time while {flows.describe(request)}: {why}; nothing was sent"
        )

    def pauses(self) -> Iterator[float]:
        """Seconds to sleep, one after the other, until the turn comes; TurnTimeout when it
        moves past its deadline (the budget learned of a limit meanwhile)."""
        t = self.transport
        try:
            yield from t.budget.waits(self.turn, t._clock, self.by)
        except budget.Late as late:
            raise self.late(self.request, str(late)) from None

    def answered(self, response: httpx.Response, error: E.SoraError | None) -> None:
        t = self.transport
        limited = error is not None and rate_limited(error)
        t.budget.answered(self.turn, t._clock(), response.headers, limited=limited)

    def release(self) -> None:
        """The turn was not used after all (an interrupt while waiting for it)."""
        if self.turn.sent_at is None:
            self.transport.budget.release(self.turn)


class _Stream:
    """An open streamed answer, read one Server-Sent Event at a time (``flows.Receive``)."""

    def __init__(self, response: httpx.Response, request: HttpRequest, events: Any) -> None:
        self.response, self.request, self.events = response, request, events
        self.whole_read = False


class _Download:
    """One file being downloaded, shared by both twins: written under a temporary name, its
    first bytes checked to be a video (when ``expect`` says so), its length checked against
    Content-Length, then put in place (``files.settle``)."""

    def __init__(
        self, transport: _Transport, response: httpx.Response, target: Path, expect: str | None
    ) -> None:
        self.transport, self.response, self.target, self.expect = (
            transport,
            response,
            target,
            expect,
        )
        self.tmp = temp_name(target)
        self.head = b""
        self.written = 0
        self.received = 0  # raw bytes, as Content-Length counts them
        self._fh: Any = None
        # The file is read raw and decoded here, so a compressed stream cut short (complete
        # as HTTP, incomplete as gzip) is an error instead of a silently truncated video.
        encoding = response.headers.get("content-encoding", "").strip().lower()
        self._zlib: Any = None
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()
        self._unsupported = encoding not in ("", "identity", "gzip", "x-gzip", "deflate")

    def refused(self) -> bool:
        """A video was expected and the answer says it is text, JSON or markup."""
        return bool(self.expect) and self.transport._textual(self.response)

    def link_in(self, body: bytes) -> HttpRequest | None:
        """A content route that answers JSON naming the file (``{"url": …, "video_url": …}``,
        as some relays' ``/videos/{id}/content`` do): the request that fetches it. Auth goes
        with it only to the gateway's own origin (``_GatewayAuth``)."""
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return None
        if not isinstance(data, dict):
            return None
        url = first(
            link(data.get("video_url")),
            link(data.get("url")),
            find_video_link(data),
        )
        return HttpRequest("GET", url, "content") if url else None

    def not_a_video(self, head: bytes) -> E.ProtocolError:
        return self.transport._not_a_video(self.response, head[:4096])

    def __enter__(self) -> _Download:
        if self._unsupported:
            encoding = self.response.headers.get("content-encoding")
            raise E.ProtocolError(
                f"the file came {encoding}-encoded, which sora_nb does not decode for downloads"
            )
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.tmp, "wb")
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()

    def write(self, raw: bytes) -> None:
        self.received += len(raw)
        if self._zlib is None:
            self._keep(raw)
            return
        try:
            self._keep(self._zlib.decompress(raw))
        except zlib.error as exc:
            raise E.TransportError(f"the download's compressed stream is broken: {exc}") from None

    def _keep(self, chunk: bytes) -> None:
        if not chunk:
            return
        if self.expect and len(self.head) < 16:
            self.head += chunk[:16]
            if len(self.head) >= 16 and media_kind(self.head) is None:
                raise self.not_a_video(self.head)
        self._fh.write(chunk)
        self.written += len(chunk)

    def settled(self) -> Path:
        if self._zlib is not None:
            self._keep(self._zlib.flush())
            if not self._zlib.eof:
                raise E.TransportError(
                    "the download's compressed stream ended early: the file is incomplete"
                )
        if self.expect and media_kind(self.head) is None:
            raise self.not_a_video(self.head)
        self.transport._check_length(self.response, self.received)
        return settle(self.tmp, self.target)

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


class Client(_Transport):
    """Synchronous client. Every method blocks until its answer is in.

    ``Client(base_url=None, api_key=None, dialect=None)`` reads ``SORA_BASE_URL``,
    ``SORA_API_KEY`` and ``SORA_DIALECT`` for what is not given. With ``journal=True`` every job
    it submits is written to the journal the magics use (``%sora_jobs``) before anything waits
    on it, so a script that dies mid-wait loses no paid job.
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
        self._http = httpx.Client(transport=transport, **self._http_options())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- performing steps -------------------------------------------------------------------------

    def _send(
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
                    time.sleep(pause)
            response = self._http.send(
                self._request(self._http, request, stream, deadline), auth=self._auth, stream=True
            )
            if response.status_code >= 400 or not stream:
                try:
                    content = self._read(response, request, deadline)
                finally:
                    response.close()
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
        events = EventSource(response).iter_sse() if self._is_sse(response) else None
        return _Stream(response, request, events)

    def _read(
        self, response: httpx.Response, request: HttpRequest, deadline: float | None
    ) -> bytes:
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            self._bounded(len(body), request, deadline)
        return self._scrubbed(body)

    def _receive(self, stream: _Stream, deadline: float | None) -> str | flows.Whole | None:
        self._late(deadline, stream.request)
        try:
            if stream.events is None:
                if stream.whole_read:
                    return None
                stream.whole_read = True
                return flows.Whole(self._read(stream.response, stream.request, None))
            sse = next(stream.events, None)
        except httpx.HTTPError as exc:
            raise self._failed(exc, stream.request)  # noqa: B904 (a scrubbed copy is its cause)
        self._late(deadline, stream.request)
        return None if sse is None else self._data(sse.data)

    def _fetch(self, request: HttpRequest, target: Path, expect: str | None, hops: int = 0) -> Path:
        stream = self._send(request, stream=True)
        file = _Download(self, stream.response, target, expect)
        try:
            if file.refused():
                body = self._read(stream.response, request, None)
                found = file.link_in(body) if hops == 0 else None
                if found is None:
                    raise file.not_a_video(body)
                stream.response.close()
                return self._fetch(found, target, expect, hops + 1)
            with file:
                for chunk in stream.response.iter_raw():
                    file.write(chunk)
            return file.settled()
        except httpx.HTTPError as exc:
            raise self._failed(exc, request)  # noqa: B904 (chained to a scrubbed copy: _errors)
        finally:
            stream.response.close()
            file.discard()

    def _steps(self, flow: flows.Flow, result: list[Any]) -> Iterator[RunEvent]:
        """Perform ``flow``'s steps, yielding each event it emits; its value goes in ``result``."""
        streams: list[_Stream] = []
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
                        value = self._send(step.request, step.stream, step.deadline, step.send_by)
                        if step.stream:
                            streams.append(value)
                    elif isinstance(step, flows.Receive):
                        value = self._receive(step.stream, step.deadline)
                    elif isinstance(step, flows.Fetch):
                        value = self._fetch(step.request, step.target, step.expect)
                    elif isinstance(step, flows.Sleep):
                        time.sleep(step.seconds)
                    else:
                        yield step.event
                except E.SoraError as exc:
                    error = exc
        finally:
            flow.close()
            for stream in streams:
                stream.response.close()

    def _run(self, flow: flows.Flow, listener: OnEvent | None = None) -> Any:
        result: list[Any] = []
        steps = self._steps(flow, result)
        try:
            for event in steps:
                if listener is not None:
                    listener(event)
        finally:
            steps.close()
        return result[0]

    # -- videos -----------------------------------------------------------------------------------

    def create_video(
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
        return self._run(self._create_flow(prepared), self._listener(params=prepared.params))

    def get_job(self, job_id: str, *, dialect: str | Dialect | None = None) -> Job:
        """The job's current state, asked once."""
        return self._run(self._get_job_flow(job_id, dialect))

    def wait(
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
        return self._run(self._wait_flow(job, timeout, poll_interval), self._listener(on_update))

    def generate_video(
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
        return self.run_video(prepared, on_update=on_update).job

    def run_video(
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
        return self._run(self._video_flow(prepared, folder, resume, timeout), listener)

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
        nothing half-written behind. The key goes only to the gateway's own origin.
        """
        return self._run(self._download_flow(job, dest, variant, filename), self._listener())

    def list_videos(
        self, *, after: str | None = None, limit: int | None = None, order: str | None = None
    ) -> list[Job]:
        """One page of videos from ``GET /videos`` (the openai dialect's endpoint)."""
        return self._run(self._list_flow(after, limit, order))

    def delete_video(self, job_id: str, *, dialect: str | Dialect | None = None) -> None:
        """``DELETE /videos/{id}`` (the openai dialect's endpoint, or ``dialect``'s own)."""
        self._run(self._delete_flow(job_id, dialect))

    def remix_video(self, job_id: str, prompt: str) -> Job:
        """``POST /videos/{id}/remix``: a new job from a finished one and a new prompt."""
        return self._run(self._remix_flow(job_id, prompt), self._listener())

    # -- chat and images ------------------------------------------------------------------------

    def stream_chat(
        self, messages: Messages, *, model: str | None = None, **params: Any
    ) -> Iterator[ChatEvent]:
        """Stream a chat answer: one ChatEvent per piece of text as it arrives.

        Raises StreamInterrupted (keeping the text so far) if the stream ends early.
        """
        return self._texts(self._stream_flow(messages, model, params))

    def _texts(self, flow: flows.Flow) -> Iterator[ChatEvent]:
        steps = self._steps(flow, [])
        try:
            for event in steps:
                if isinstance(event, Text):
                    yield event.event
        finally:
            steps.close()

    def chat(self, messages: Messages, *, model: str | None = None, **params: Any) -> ChatEvent:
        """A whole (non-streamed) chat answer."""
        return self._run(self._chat_flow(messages, model, params))

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
        return self._run(self._images_flow(prompt, model, n, size, params))

    # -- the key's balance ------------------------------------------------------------------------

    def balance(self, *, timeout: float | None = 10.0) -> billing.Balance:
        """What the relay says the key has left (``GET /dashboard/billing/subscription`` and
        ``/usage``, served by one-api and new-api): see ``sora_nb.billing``. NotFoundError where
        the relay serves no such route."""
        return self._run(billing.flow(self.ctx, timeout=timeout))


class AsyncClient(_Transport):
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
        return _Stream(response, request, events)

    async def _read(
        self, response: httpx.Response, request: HttpRequest, deadline: float | None
    ) -> bytes:
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            self._bounded(len(body), request, deadline)
        return self._scrubbed(body)

    async def _receive(self, stream: _Stream, deadline: float | None) -> str | flows.Whole | None:
        left = self._late(deadline, stream.request)
        try:
            if stream.events is None:
                if stream.whole_read:
                    return None
                stream.whole_read = True
                return flows.Whole(await self._read(stream.response, stream.request, None))
            sse = await asyncio.wait_for(anext(stream.events, None), left)
        except asyncio.TimeoutError:
            raise E.TimeoutError(
                f"no answer in time while {flows.describe(stream.request)}"
            ) from None
        except httpx.HTTPError as exc:
            raise self._failed(exc, stream.request)  # noqa: B904 (a scrubbed copy is its cause)
        return None if sse is None else self._data(sse.data)

    async def _fetch(
        self, request: HttpRequest, target: Path, expect: str | None, hops: int = 0
    ) -> Path:
        stream = await self._send(request, stream=True)
        file = _Download(self, stream.response, target, expect)
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
        streams: list[_Stream] = []
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
                    await _call(listener, event)
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
        """Awaitable :meth:`Client.create_video`."""
        prepared = self.prepare(
            prompt, model=model, images=images, orientation=orientation, size=size,
            duration=duration, dialect=dialect, extra=extra,
        )  # fmt: skip
        return await self._run(self._create_flow(prepared), self._listener(params=prepared.params))

    async def get_job(self, job_id: str, *, dialect: str | Dialect | None = None) -> Job:
        """Awaitable :meth:`Client.get_job`."""
        return await self._run(self._get_job_flow(job_id, dialect))

    async def wait(
        self,
        job: Job | str,
        *,
        timeout: float | None = 900.0,
        on_update: OnUpdate | None = None,
        poll_interval: float | None = None,
    ) -> Job:
        """Awaitable :meth:`Client.wait`; ``on_update`` may be a coroutine function."""
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
        """Awaitable :meth:`Client.generate_video`."""
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
        """Awaitable :meth:`Client.run_video`; listeners may be coroutine functions."""
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
        """Awaitable :meth:`Client.download`."""
        flow = self._download_flow(job, dest, variant, filename)
        return await self._run(flow, self._listener())

    async def list_videos(
        self, *, after: str | None = None, limit: int | None = None, order: str | None = None
    ) -> list[Job]:
        """Awaitable :meth:`Client.list_videos`."""
        return await self._run(self._list_flow(after, limit, order))

    async def delete_video(self, job_id: str, *, dialect: str | Dialect | None = None) -> None:
        """Awaitable :meth:`Client.delete_video`."""
        await self._run(self._delete_flow(job_id, dialect))

    async def remix_video(self, job_id: str, prompt: str) -> Job:
        """Awaitable :meth:`Client.remix_video`."""
        return await self._run(self._remix_flow(job_id, prompt), self._listener())

    # -- chat and images ------------------------------------------------------------------------

    def stream_chat(
        self, messages: Messages, *, model: str | None = None, **params: Any
    ) -> AsyncIterator[ChatEvent]:
        """:meth:`Client.stream_chat` as an async iterator."""
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
        """Awaitable :meth:`Client.chat`."""
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
        """Awaitable :meth:`Client.generate_images`."""
        return await self._run(self._images_flow(prompt, model, n, size, params))

    # -- the key's balance ------------------------------------------------------------------------

    async def balance(self, *, timeout: float | None = 10.0) -> billing.Balance:
        """Awaitable :meth:`Client.balance`."""
        return await self._run(billing.flow(self.ctx, timeout=timeout))


async def _call(callback: Callable[[Any], Any], value: Any) -> None:
    result = callback(value)
    if inspect.isawaitable(result):
        await result
