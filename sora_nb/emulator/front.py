"""The raw ASGI front of both origins: it sees every request before the routed app does.

It counts and records the request, checks the key, and applies faults. It sits below Starlette
because faults such as "reset" need uvicorn's own `send` to reach the socket. What the routed
app needs to know (the fault picked for this request, the connection) travels in the scope and
is read back with `context(request)`.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import socket
import struct
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from .config import EmulatorConfig
from .faults import Fault
from .shapes.errors import incorrect_api_key, missing_api_key, rate_limited
from .shapes.newapi import invalid_url
from .state import EmulatorState

__all__ = ["Conn", "Front", "RequestContext", "classify", "context", "family", "serves"]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SCOPE_KEY = "sora_emulator"

# --- request kinds ---------------------------------------------------------------------------

_VIDEO_PATH = re.compile(r"/v1/videos/([^/]+)(/content|/remix)?")
_TASK_PATH = re.compile(r"/v1/video/generations/[^/]+")
# router/dashboard.go serves both spellings of the billing routes.
_BILLING_PATHS = {
    f"{prefix}/dashboard/billing/{name}"
    for prefix in ("", "/v1")
    for name in ("subscription", "usage")
}
_FAMILY_PATHS = {
    "/v1/video/create": "unified",
    "/v1/video/query": "unified",
    "/v1/video/generations": "tasks",
    "/v1/videos": "videos",
    "/v1/chat/completions": "chat",
    "/v1/images/generations": "images",
    "/v1/models": "models",
}


def family(path: str) -> str | None:
    """The route family a path belongs to ("content" for /v1/videos/{id}/content, which both
    OpenAI's family and new-api's task family serve), None for paths the emulator never has."""
    p = path.rstrip("/") or "/"
    if p in _FAMILY_PATHS:
        return _FAMILY_PATHS[p]
    if p in _BILLING_PATHS:
        return "billing"
    if _TASK_PATH.fullmatch(p):
        return "tasks"
    m = _VIDEO_PATH.fullmatch(p)
    if m:
        return "content" if m.group(2) == "/content" else "videos"
    return None


def serves(config: EmulatorConfig, method: str, path: str) -> bool:
    """False when this instance answers the route as missing: its family is switched off, or
    new-api's flavour of /v1/videos leaves it unrouted (router/video-router.go has no
    GET /v1/videos list and no DELETE /v1/videos/{id})."""
    fam = family(path)
    if fam is None:
        return True  # an unknown route either way; the router answers it
    if fam == "content":
        return "videos" in config.families or "tasks" in config.families
    if fam not in config.families:
        return False
    if fam == "videos" and config.videos_flavor == "newapi":
        listing = path.rstrip("/") == "/v1/videos"
        return not ((listing and method == "GET") or (not listing and method == "DELETE"))
    return True


def classify(method: str, path: str) -> str:
    """The counter/fault kind of a gateway request."""
    p = path.rstrip("/") or "/"
    if p == "/v1/video/create" and method == "POST":
        return "create"
    if p == "/v1/video/query" and method == "GET":
        return "poll"
    if p == "/v1/video/generations" and method == "POST":
        return "create"
    if _TASK_PATH.fullmatch(p) and method == "GET":
        return "poll"
    if p in _BILLING_PATHS and method == "GET":
        return "billing"
    if p == "/v1/videos":
        return {"POST": "create", "GET": "list"}.get(method, "other")
    if p == "/v1/chat/completions" and method == "POST":
        return "chat"
    if p == "/v1/images/generations" and method == "POST":
        return "images"
    m = _VIDEO_PATH.fullmatch(p)
    if m:
        suffix = m.group(2)
        if suffix is None:
            return {"GET": "poll", "HEAD": "poll", "DELETE": "delete"}.get(method, "other")
        if suffix == "/content" and method in ("GET", "HEAD"):
            return "download"
        if suffix == "/remix" and method == "POST":
            return "remix"
    return "other"


# --- connection control ----------------------------------------------------------------------


class Conn:
    """Reaches the socket under uvicorn's h11 protocol, to drop a connection on purpose.

    uvicorn's `send` is a bound method of its per-request cycle, which holds the transport.
    """

    def __init__(self, send: Send) -> None:
        self._cycle = getattr(send, "__self__", None)

    @property
    def disconnected(self) -> bool:
        return bool(getattr(self._cycle, "disconnected", False))

    async def drop(self, *, rst: bool) -> None:
        transport = getattr(self._cycle, "transport", None)
        if transport is None:
            raise RuntimeError("cannot reach the connection (not running under uvicorn h11)")
        if rst:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                # Linger 0: close() sends RST instead of FIN, a true "connection reset".
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()  # flushes what was written, then FIN
        # Wait until uvicorn noticed, so nothing more is written (no 500, no final chunk).
        for _ in range(500):
            if self.disconnected:
                return
            await asyncio.sleep(0.002)


@dataclass(frozen=True)
class RequestContext:
    """What the front decided about one request, for the handlers."""

    fault: Fault | None = None
    conn: Conn | None = None
    kind: str = "other"
    closing: threading.Event | None = None  # set when the emulator stops
    served: bool = True  # False: this instance answers the route as missing

    @property
    def fail_reason(self) -> str | None:
        """The reason the job must fail with (a `fail_job` fault), else None."""
        fault = self.fault
        return fault.reason if fault is not None and fault.action == "fail_job" else None

    @property
    def cut_after(self) -> int | None:
        """Chunks to send before the connection drops (a `cut_stream` fault), else None."""
        fault = self.fault
        return fault.after_chunks if fault is not None and fault.action == "cut_stream" else None


def context(request: Request) -> RequestContext:
    return request.scope.get(_SCOPE_KEY) or RequestContext()


def _bearer(scope: Scope) -> str | None:
    """The key sent in the Authorization header ("Bearer " optional), or None without one."""
    value = next((v for n, v in scope["headers"] if n.lower() == b"authorization"), None)
    if value is None:
        return None
    text = value.decode("latin-1")
    return text[7:] if text[:7].lower() == "bearer " else text


# --- raw answers -----------------------------------------------------------------------------


async def _drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


class _Recorder:
    """Captures a response instead of sending it."""

    def __init__(self) -> None:
        self.start: dict[str, Any] | None = None
        self.body = bytearray()

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    async def replay(self, send: Send) -> None:
        assert self.start is not None
        await send(self.start)
        await send({"type": "http.response.body", "body": bytes(self.body), "more_body": False})


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


async def send_answer(
    send: Send, status: int, obj: Any, headers: dict[str, str] | None = None
) -> None:
    """A complete answer through raw ASGI (JSON unless `headers` say otherwise)."""
    body = obj if isinstance(obj, bytes) else _json_bytes(obj)
    merged = {"content-type": "application/json"}
    merged.update({k.lower(): str(v) for k, v in (headers or {}).items()})
    merged["content-length"] = str(len(body))
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in merged.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _with_headers(send: Send, extra: dict[str, str]) -> Send:
    """`send`, with `extra` headers added to the answer's start (whoever writes the answer)."""
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]

    async def sending(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *raw]}
        await send(message)

    return sending


# What broken relays send instead of an answer (`malformed` faults).
_BROKEN_PAGE = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
_TRUNCATED_CHAT = b'{"id":"chatcmpl-emulator","object":"chat.completion","choices":[{"mess'


# --- the front -------------------------------------------------------------------------------


class Front:
    """Counts, records, authenticates and injects faults before the routed app sees a request."""

    def __init__(self, state: EmulatorState, inner: ASGIApp, origin: str) -> None:
        self.state, self.inner, self.origin = state, inner, origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        kind = "cdn" if self.origin == "cdn" else classify(scope["method"], scope["path"])
        conn = Conn(send)  # uvicorn's own `send`, before any wrapping
        served = self.origin == "cdn" or serves(self.state.config, scope["method"], scope["path"])
        if not served:
            kind = "other"  # a probe of a route this relay lacks, whatever it would have been
        self.state.record(kind, scope)
        if self.origin == "api":
            denied = self._auth_error(scope)
            if denied is not None:
                await _drain(receive)
                await send_answer(send, 401, denied)
                return
            # The relay's own limit comes before anything reaches the upstream (and its faults).
            wait, limit_headers = self.state.rate_limit(_bearer(scope) or "")
            if limit_headers:
                send = _with_headers(send, limit_headers)
            if wait is not None:
                await self._too_many(wait, kind, receive, send)
                return
        fault = self.state.pick_fault(kind)
        scope = dict(scope)
        scope[_SCOPE_KEY] = RequestContext(fault, conn, kind, self.state.closing, served)
        if fault is None or fault.action in ("fail_job", "cut_stream"):
            await self._route(scope, receive, send)  # the handlers apply these themselves
            return
        await self._apply(fault, kind, conn, scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The routed app, or new-api's 404 for a route this instance does not serve."""
        if scope[_SCOPE_KEY].served:
            await self.inner(scope, receive, send)
            return
        await _drain(receive)
        await send_answer(send, 404, invalid_url(scope["method"], scope["path"]))

    def _auth_error(self, scope: Scope) -> dict | None:
        key = self.state.config.api_key
        if key is None:
            return None
        received = _bearer(scope)
        if received is None:
            return missing_api_key()
        if received == key:
            return None
        return incorrect_api_key(received)

    async def _too_many(self, wait: float, kind: str, receive: Receive, send: Send) -> None:
        cfg = self.state.config
        rate, burst = cfg.rate_limit or (0.0, 0)
        # Retry-After is whole seconds (RFC 9110), so a sub-second wait still reads 1.
        headers = (
            {"retry-after": str(max(1, math.ceil(wait)))} if cfg.rate_limit_retry_after else {}
        )
        await _drain(receive)
        self.state.count_429(kind)
        await send_answer(send, 429, rate_limited(rate, burst), headers)

    async def _apply(
        self, fault: Fault, kind: str, conn: Conn, scope: Scope, receive: Receive, send: Send
    ) -> None:
        action = fault.action
        carried_out = kind in ("create", "remix")  # the request reached the server, then trouble
        if action in ("status", "quota"):
            await _drain(receive)
            if fault.status == 429:
                self.state.count_429(kind)
            await send_answer(send, fault.status, fault.body(scope["path"]), fault.headers)
        elif action in ("reset", "close"):
            if carried_out:
                await self._route(scope, receive, _Recorder().send)
            else:
                await _drain(receive)
            await conn.drop(rst=action == "reset")
        elif action == "slow":
            if carried_out:
                recorder = _Recorder()
                await self._route(scope, receive, recorder.send)
                await asyncio.sleep(fault.delay)
                await recorder.replay(send)
            else:
                await asyncio.sleep(fault.delay)
                await self._route(scope, receive, send)
        elif action == "malformed":
            if kind in ("download", "cdn"):
                # A file URL answering 200 with a page instead of the file, as broken CDNs do.
                await _drain(receive)
                headers = {"content-type": "text/html", **fault.headers}
                await send_answer(send, 200, _BROKEN_PAGE, headers)
                return
            if kind == "chat":
                await _drain(receive)
                body = _TRUNCATED_CHAT
            else:
                recorder = _Recorder()
                await self._route(scope, receive, recorder.send)
                body = bytes(recorder.body[: max(1, len(recorder.body) // 2)])
            await send_answer(send, 200, body, fault.headers)
