"""What both clients share: the httpx requests, the gateway-only auth, the request budget's
pacing, bounded and scrubbed reads, streams and verified downloads.

The clients themselves only drive flows (``flows``, ``runs``) over this: ``async_client`` is
written by hand, ``sync_client`` is generated from it (``scripts/unasync.py``). The few calls that
differ between the two worlds (the next server-sent event, calling a listener) are the pairs at
the end of this module, which the generator swaps by name.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from . import _errors, budget, dialects, flows, probing
from . import _exceptions as E
from ._secret import Secret, scrub, scrub_bytes
from .config import DEFAULT_DIALECT
from .dialects import HttpRequest
from .dialects._base import find_video_link, first, link
from .files import load_image, media_kind, safe_filename, settle, temp_name
from .models import Job
from .plans import ClientCore
from .retry import rate_limited

__all__ = [
    "MAX_ANSWER_BYTES",
    "Download",
    "Messages",
    "OnUpdate",
    "Pacing",
    "Stream",
    "Transport",
    "acall",
    "anext_sse",
    "call",
    "load_image",
    "next_sse",
    "safe_filename",
]

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


class Transport(ClientCore):
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

    def _pacing(self, request: HttpRequest, stream: bool, send_by: float | None) -> Pacing | None:
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
            raise Pacing.late(request, self.budget.why_late(now))
        return Pacing(self, request, turn, by)

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


class Pacing:
    """One request's turn in the gateway's budget, shared by both twins: the sleeps until it
    comes (``pauses``), then what the answer taught (``answered``)."""

    def __init__(
        self, transport: Transport, request: HttpRequest, turn: budget.Turn, by: float
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


class Stream:
    """An open streamed answer, read one Server-Sent Event at a time (``flows.Receive``)."""

    def __init__(self, response: httpx.Response, request: HttpRequest, events: Any) -> None:
        self.response, self.request, self.events = response, request, events
        self.whole_read = False


class Download:
    """One file being downloaded, shared by both twins: written under a temporary name, its
    first bytes checked to be a video (when ``expect`` says so), its length checked against
    Content-Length, then put in place (``files.settle``)."""

    def __init__(
        self, transport: Transport, response: httpx.Response, target: Path, expect: str | None
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

    def __enter__(self) -> Download:
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


# -- the calls that differ between the clients (scripts/unasync.py swaps each pair by name) --------


async def anext_sse(stream: Stream, timeout: float | None) -> Any:
    """The stream's next server-sent event, or None at its end, within ``timeout`` seconds."""
    try:
        return await asyncio.wait_for(anext(stream.events, None), timeout)
    except asyncio.TimeoutError:
        raise E.TimeoutError(f"no answer in time while {flows.describe(stream.request)}") from None


def next_sse(stream: Stream, timeout: float | None) -> Any:
    """The stream's next server-sent event, or None at its end. A blocking read has no timeout
    of its own: httpx's read timeout bounds each read, and the caller checks the deadline after."""
    return next(stream.events, None)


async def acall(callback: Callable[[Any], Any], value: Any) -> None:
    """Call a listener, awaiting it when it is a coroutine function."""
    result = callback(value)
    if inspect.isawaitable(result):
        await result


def call(callback: Callable[[Any], Any], value: Any) -> None:
    """Call a listener."""
    callback(value)
