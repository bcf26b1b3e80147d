"""The ASGI apps: the gateway origin (every dialect of PROTOCOLS.md) and the CDN origin.

A thin front (`_Front`) sees every request first: it counts and records it, checks the key,
and applies faults, because faults such as "reset" need uvicorn's own `send` to reach the socket.
Everything else is ordinary Starlette routing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from . import chat_text
from .faults import Fault, error_body
from .jobs import Job
from .render import iter_padded

if TYPE_CHECKING:
    from .server import Emulator

__all__ = ["build_api_app", "build_cdn_app", "classify"]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

FILE_CHUNK = 64 * 1024  # unit of `cut_stream` on downloads: small enough to cut a small mp4
_KEEPALIVE = object()  # marker in event streams: send an SSE comment line
_ABORT = object()  # marker in event streams: stop without finishing (emulator stopping)


class ApiError(Exception):
    """An error answer in OpenAI's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = (
            status,
            message,
            type,
            code,
            param,
        )

    def response(self) -> JSONResponse:
        body = error_body(self.status, self.message, self.type, self.code)
        body["error"]["param"] = self.param
        return JSONResponse(body, status_code=self.status)


def _bad(message: str, param: str | None = None, code: str | None = "invalid_value") -> ApiError:
    return ApiError(400, message, "invalid_request_error", code, param)


def _not_found(message: str) -> ApiError:
    return ApiError(404, message, "invalid_request_error", "not_found")


# --- request classification ----------------------------------------------------------------

_VIDEO_PATH = re.compile(r"/v1/videos/([^/]+)(/content|/remix)?")


def classify(method: str, path: str) -> str:
    """The counter/fault kind of a gateway request."""
    p = path.rstrip("/") or "/"
    if p == "/v1/video/create" and method == "POST":
        return "create"
    if p == "/v1/video/query" and method == "GET":
        return "poll"
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


class _Conn:
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


async def _send_json(
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


class _Front:
    """Counts, records, authenticates and injects faults before the routed app sees a request."""

    def __init__(self, emu: Emulator, inner: Any, origin: str) -> None:
        self.emu, self.inner, self.origin = emu, inner, origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        kind = "cdn" if self.origin == "cdn" else classify(scope["method"], scope["path"])
        self.emu.record(kind, scope)
        if self.origin == "api":
            denied = self._auth_error(scope)
            if denied is not None:
                await _drain(receive)
                await _send_json(send, 401, denied)
                return
        fault = self.emu.pick_fault(kind)
        conn = _Conn(send)
        scope = dict(scope)
        scope["sora_emulator"] = {
            "fault": fault,
            "conn": conn,
            "kind": kind,
            "closing": self.emu.closing,
        }
        if fault is None or fault.action in ("fail_job", "cut_stream"):
            await self.inner(scope, receive, send)
            return
        await self._apply(fault, kind, conn, scope, receive, send)

    def _auth_error(self, scope: Scope) -> dict | None:
        key = self.emu.config.api_key
        if key is None:
            return None
        value = next((v for n, v in scope["headers"] if n.lower() == b"authorization"), None)
        if value is None:
            return error_body(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error",
                "missing_api_key",
            )
        text = value.decode("latin-1")
        received = text[7:] if text[:7].lower() == "bearer " else text
        if received == key:
            return None
        # Echoed in full on purpose: hostile relays do this, and the client must scrub it.
        return error_body(
            401,
            f"Incorrect API key provided: {received}. You can find your API key in your dashboard.",
            "invalid_request_error",
            "invalid_api_key",
        )

    async def _apply(
        self, fault: Fault, kind: str, conn: _Conn, scope: Scope, receive: Receive, send: Send
    ) -> None:
        action = fault.action
        carried_out = kind in ("create", "remix")  # the request reached the server, then trouble
        if action in ("status", "quota"):
            await _drain(receive)
            await _send_json(send, fault.status, fault.body(), fault.headers)
        elif action in ("reset", "close"):
            if carried_out:
                await self.inner(scope, receive, _Recorder().send)
            else:
                await _drain(receive)
            await conn.drop(rst=action == "reset")
        elif action == "slow":
            if carried_out:
                recorder = _Recorder()
                await self.inner(scope, receive, recorder.send)
                await asyncio.sleep(fault.delay)
                await recorder.replay(send)
            else:
                await asyncio.sleep(fault.delay)
                await self.inner(scope, receive, send)
        elif action == "malformed":
            if kind in ("download", "cdn"):
                # A file URL answering 200 with a page instead of the file, as broken CDNs do.
                await _drain(receive)
                page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
                headers = {"content-type": "text/html", **fault.headers}
                await _send_json(send, 200, page, headers)
                return
            if kind == "chat":
                await _drain(receive)
                body = b'{"id":"chatcmpl-emulator","object":"chat.completion","choices":[{"mess'
            else:
                recorder = _Recorder()
                await self.inner(scope, receive, recorder.send)
                body = bytes(recorder.body[: max(1, len(recorder.body) // 2)])
            await _send_json(send, 200, body, fault.headers)


# --- helpers for handlers --------------------------------------------------------------------


def _ctx(request: Request) -> dict[str, Any]:
    return request.scope.get("sora_emulator") or {
        "fault": None,
        "conn": None,
        "kind": "other",
        "closing": None,
    }


def _fail_reason(request: Request) -> str | None:
    fault = _ctx(request)["fault"]
    return fault.reason if fault is not None and fault.action == "fail_job" else None


def _cut_after(request: Request) -> int | None:
    fault = _ctx(request)["fault"]
    return fault.after_chunks if fault is not None and fault.action == "cut_stream" else None


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise ApiError(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly.)",
            "invalid_request_error",
            None,
        ) from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.", "invalid_request_error")
    return body


@dataclass
class Upload:
    filename: str
    content_type: str
    data: bytes


def _disposition_param(header: str, name: str) -> str | None:
    m = re.search(rf'(?:^|;)\s*{name}="((?:[^"\\]|\\.)*)"', header) or re.search(
        rf"(?:^|;)\s*{name}=([^;\s]+)", header
    )
    return m.group(1) if m else None


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, Upload]]:
    """Fields and files of a multipart/form-data body (small bodies; stdlib only)."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise _bad("multipart/form-data body without a boundary", code=None)
    delimiter = b"--" + m.group(1).encode("latin-1")
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        if part.startswith(b"\r\n"):
            part = part[2:]
        head, sep, data = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        if data.endswith(b"\r\n"):
            data = data[:-2]
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        disposition = headers.get("content-disposition", "")
        name = _disposition_param(disposition, "name")
        if name is None:
            continue
        filename = _disposition_param(disposition, "filename")
        if filename is not None:
            ctype = headers.get("content-type", "application/octet-stream")
            files[name] = Upload(filename, ctype, data)
        else:
            fields[name] = data.decode("utf-8", "replace")
    return fields, files


async def _form_or_json(request: Request) -> tuple[dict[str, Any], dict[str, Upload], str]:
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        fields, files = parse_multipart(await request.body(), ctype)
        return dict(fields), files, "multipart"
    if ctype.startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl((await request.body()).decode())), {}, "form"
    return await _json_body(request), {}, "json"


def _parse_wh(size: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"\s*(\d{2,5})\s*[xX*×]\s*(\d{2,5})\s*", size)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _num(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise _bad(f"Invalid type for '{name}': expected a number.", name, "invalid_type")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        return float(value)
    raise _bad(f"Invalid value for '{name}': {value!r} is not a number.", name, "invalid_type")


def _seconds_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def _unified_dims(size: str, orientation: str) -> tuple[int, int]:
    wh = _parse_wh(size)
    if wh:
        return wh
    long_edge, short_edge = (1920, 1080) if size == "large" else (1280, 720)
    if orientation == "landscape":
        return long_edge, short_edge
    return short_edge, long_edge


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


# --- the gateway -----------------------------------------------------------------------------


class Gateway:
    """Handlers of the gateway origin; state lives in the Emulator."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.store = emu.store

    @property
    def cfg(self) -> Any:
        return self.emu.config

    # ---- URLs and shapes ----
    def cdn(self, job: Job, ext: str) -> str:
        return f"{self.emu.cdn_url}/cdn/{job.date}/{job.token}.{ext}"

    def _state(self, job: Job) -> tuple[str, float]:
        return job.status, self.store.progress(job)

    def unified_object(self, job: Job) -> dict[str, Any]:
        status, progress = self._state(job)
        top = {"queued": "pending", "in_progress": "processing"}.get(status, status)
        inner = {"in_progress": "processing"}.get(status, status)
        moment = {"queued": job.created, "in_progress": job.start}.get(status, job.end)
        reason = job.fail_reason if status == "failed" else None
        p = job.params
        info = {
            "status": inner,
            "progress_pct": round(progress, 4),
            "failure_reason": reason,
            "moderation_result": {
                "type": "blocked" if reason and "content policy" in reason else "passed"
            },
            "progress_pos_in_queue": self.store.queue_position(job),
            "estimated_queue_wait_time": self.store.queue_wait(job),
        }
        detail: dict[str, Any] = {
            "id": job.upstream_id,
            "status": top,
            "input": {
                "size": p.get("size", f"{job.width}x{job.height}"),
                "model": job.model,
                "images": p.get("images", []),
                "prompt": job.prompt,
                "orientation": job.orientation,
                "duration": p.get("duration", job.seconds),
            },
            "pending_info": info,
        }
        obj: dict[str, Any] = {
            "id": job.id,
            "status": top,
            "status_update_time": _ms(self.store.wall(moment or job.created)),
            "video_url": None,
            "detail": detail,
        }
        if status == "completed":
            video = self.cdn(job, "mp4")
            obj.update(
                video_url=video,
                thumbnail_url=self.cdn(job, "webp"),
                width=job.width,
                height=job.height,
                enhanced_prompt=f"{job.prompt}. Smooth camera motion, soft cinematic light.",
            )
            detail.update(url=video, gif_url=self.cdn(job, "gif"))
        elif status == "failed":
            obj["error"] = reason
        if self.cfg.unified_variant == "alt":
            obj["status"] = detail["status"] = status
            obj["progress"] = 100 if status == "completed" else int(progress * 100)
            obj["status_update_time"] //= 1000
            del detail["pending_info"]
            if status == "failed":
                obj["error"] = {"code": "generation_failed", "message": reason}
        return obj

    def video_object(self, job: Job, *, fresh: bool = False) -> dict[str, Any]:
        status, progress = ("queued", 0.0) if fresh else self._state(job)
        completed_at = (
            int(self.store.wall(job.end)) if status == "completed" and job.end is not None else None
        )
        error = None
        if status == "failed":
            reason = job.fail_reason or "generation failed"
            code = "moderation_blocked" if "content policy" in reason else "generation_failed"
            error = {"code": code, "message": reason}
        return {
            "id": job.id,
            "object": "video",
            "model": job.model,
            "status": status,
            "progress": 100 if status == "completed" else int(progress * 100),
            "created_at": int(job.created_wall),
            "completed_at": completed_at,
            "expires_at": completed_at + 86400 if completed_at is not None else None,
            "seconds": job.params.get("seconds", _seconds_text(job.seconds)),
            "size": f"{job.width}x{job.height}",
            "prompt": job.prompt,
            "remixed_from_video_id": job.remixed_from,
            "error": error,
        }

    def stai_object(self, job: Job) -> dict[str, Any]:
        status, progress = self._state(job)
        obj: dict[str, Any] = {
            "id": job.id,
            "object": "video",
            "model": job.model,
            "status": status,
            "progress": 100 if status == "completed" else int(progress * 100),
            "created_at": int(job.created_wall),
        }
        if status == "completed" and job.end is not None:
            obj["completed_at"] = int(self.store.wall(job.end))
            obj["metadata"] = {
                "duration": job.seconds,
                "fps": job.params.get("fps", 30),
                "width": job.width,
                "height": job.height,
            }
        elif status == "failed":
            obj["error"] = {"code": "generation_failed", "message": job.fail_reason}
        return obj

    def _job(self, job_id: str) -> Job:
        job = self.store.get(job_id)
        if job is None:
            raise _not_found(f"Video with id '{job_id}' not found.")
        return job

    # ---- unified ----
    async def unified_create(self, request: Request) -> Response:
        body = await _json_body(request)
        for name in ("images", "model", "orientation", "prompt", "size", "duration"):
            if body.get(name) is None:
                raise _bad(
                    f"Missing required parameter: '{name}'.", name, "missing_required_parameter"
                )
        model, prompt, size = body["model"], body["prompt"], body["size"]
        orientation, images = body["orientation"], body["images"]
        if not isinstance(model, str) or not model:
            raise _bad("'model' must be a non-empty string.", "model")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _bad("'prompt' must be a non-empty string.", "prompt")
        if not isinstance(images, list) or not all(isinstance(u, str) for u in images):
            raise _bad("'images' must be an array of image URLs ([] for text-to-video).", "images")
        if orientation not in ("portrait", "landscape"):
            raise _bad(
                f"Invalid 'orientation': {orientation!r}; use 'portrait' or 'landscape'.",
                "orientation",
            )
        if not isinstance(size, str):
            raise _bad("'size' must be a string.", "size")
        duration = _num(body["duration"], "duration")
        rules = self.cfg.unified_models.get(model)
        if rules:
            if size not in rules["sizes"]:
                allowed = ", ".join(rules["sizes"])
                raise _bad(f"Model {model} does not support size '{size}' ({allowed}).", "size")
            if duration not in [float(d) for d in rules["durations"]]:
                allowed = ", ".join(str(d) for d in rules["durations"])
                raise _bad(
                    f"Model {model} does not support duration {_seconds_text(duration)} "
                    f"({allowed}).",
                    "duration",
                )
        if duration <= 0 or duration > 120:
            raise _bad("'duration' must be between 1 and 120 seconds.", "duration")
        width, height = _unified_dims(size, orientation)
        job = self.store.create(
            dialect="unified",
            job_id=f"{model}:{self.store.ids.task()}",
            model=model,
            prompt=prompt,
            width=width,
            height=height,
            seconds=duration,
            orientation=orientation,
            params=dict(body),
            fail_reason=_fail_reason(request),
        )
        if self.cfg.unified_answer == "chat":
            # Seed 000's second shape: the relay waits for the video, answers a chat completion.
            chat_id = self.store.ids.chat()
            text = await self._video_text(job, task_id=job.id)
            return JSONResponse(self._completion(chat_id, model, text, prompt))
        return JSONResponse(
            {"id": job.id, "status": "pending", "status_update_time": _ms(job.created_wall)}
        )

    async def unified_query(self, request: Request) -> Response:
        job_id = request.query_params.get("id")
        if not job_id:
            raise _bad("Missing required parameter: 'id'.", "id", "missing_required_parameter")
        job = self.store.get(job_id)
        if job is None:
            raise _not_found(f"Task '{job_id}' not found.")
        return JSONResponse(self.unified_object(job))

    # ---- openai / st-ai ----
    async def videos_create(self, request: Request) -> Response:
        fields, files, encoding = await _form_or_json(request)
        prompt = fields.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _bad(
                "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter"
            )
        stai_keys = {"duration", "width", "height", "image", "fps"}
        if "seconds" not in fields and "size" not in fields and stai_keys & fields.keys():
            return self._stai_create(request, fields, prompt)
        model = fields.get("model") or "sora-2"
        seconds = fields.get("seconds", "4")
        size = fields.get("size", "720x1280")
        if isinstance(seconds, int | float) and not isinstance(seconds, bool):
            seconds = _seconds_text(float(seconds))
        if not isinstance(seconds, str) or not re.fullmatch(r"\d+(\.\d+)?", seconds):
            raise _bad(f"Invalid value for 'seconds': {seconds!r}.", "seconds")
        if not isinstance(size, str) or _parse_wh(size) is None:
            raise _bad(f"Invalid value for 'size': {size!r}; expected WIDTHxHEIGHT.", "size")
        rules = self.cfg.openai_models.get(model)
        if rules:
            if seconds not in rules["seconds"]:
                allowed = ", ".join(f"'{s}'" for s in rules["seconds"])
                raise _bad(
                    f"Invalid value: '{seconds}'. Supported values are: {allowed}.", "seconds"
                )
            if size not in rules["sizes"]:
                allowed = ", ".join(f"'{s}'" for s in rules["sizes"])
                raise _bad(
                    f"Invalid value: '{size}'. Supported values for {model} are: {allowed}.",
                    "size",
                )
        if not 0 < float(seconds) <= 120:
            raise _bad("'seconds' must be between 1 and 120.", "seconds")
        width, height = _parse_wh(size)  # type: ignore[misc]
        params: dict[str, Any] = {
            "model": model,
            "seconds": seconds,
            "size": size,
            "encoding": encoding,
        }
        reference = self._input_reference(fields, files)
        if reference is not None:
            params["input_reference"] = reference
        job = self.store.create(
            dialect="openai",
            job_id=self.store.ids.video(),
            model=model,
            prompt=prompt,
            width=width,
            height=height,
            seconds=float(seconds),
            orientation="portrait" if height > width else "landscape",
            params=params,
            fail_reason=_fail_reason(request),
        )
        return JSONResponse(self.video_object(job, fresh=True))

    @staticmethod
    def _input_reference(fields: dict[str, Any], files: dict[str, Upload]) -> dict | None:
        upload = files.get("input_reference")
        if upload is not None:
            if not (upload.content_type.startswith("image/") or upload.content_type == "video/mp4"):
                raise _bad(
                    f"Invalid file format for 'input_reference': {upload.content_type}. "
                    "Supported: image/jpeg, image/png, image/webp, video/mp4.",
                    "input_reference",
                    "invalid_file_format",
                )
            if not upload.data:
                raise _bad("'input_reference' is empty.", "input_reference")
            return {
                "filename": upload.filename,
                "content_type": upload.content_type,
                "bytes": len(upload.data),
            }
        ref = fields.get("input_reference")
        if isinstance(ref, dict):
            return {k: ref[k] for k in ("image_url", "file_id") if k in ref} or None
        for key in ("image_url", "file_id"):  # multipart spelling: input_reference[image_url]
            if f"input_reference[{key}]" in fields:
                return {key: fields[f"input_reference[{key}]"]}
        if isinstance(ref, str):
            return {"image_url": ref}
        return None

    def _stai_create(self, request: Request, fields: dict[str, Any], prompt: str) -> Response:
        duration = _num(fields.get("duration", 5.0), "duration")
        if not 0 < duration <= 120:
            raise _bad("'duration' must be between 0 and 120 seconds.", "duration")
        width = int(_num(fields.get("width", 1280), "width"))
        height = int(_num(fields.get("height", 720), "height"))
        if not (16 <= width <= 4096 and 16 <= height <= 4096):
            raise _bad("'width' and 'height' must be between 16 and 4096.", "width")
        fps = int(_num(fields.get("fps", 30), "fps"))
        model = fields.get("model") or "kling-v1"
        params = {
            k: fields[k]
            for k in ("image", "seed", "n", "response_format", "metadata")
            if k in fields
        }
        params.update(duration=duration, width=width, height=height, fps=fps)
        job = self.store.create(
            dialect="stai",
            job_id=self.store.ids.stai(),
            model=str(model),
            prompt=prompt,
            width=width,
            height=height,
            seconds=duration,
            orientation="portrait" if height > width else "landscape",
            params=params,
            fail_reason=_fail_reason(request),
        )
        return JSONResponse({"task_id": job.id, "status": "queued"})

    async def videos_retrieve(self, request: Request) -> Response:
        job = self._job(request.path_params["video_id"])
        headers = {}
        if self.cfg.poll_hint_ms is not None:
            headers["openai-poll-after-ms"] = str(int(self.cfg.poll_hint_ms))
        obj = self.stai_object(job) if job.dialect == "stai" else self.video_object(job)
        return JSONResponse(obj, headers=headers)

    async def videos_delete(self, request: Request) -> Response:
        video_id = request.path_params["video_id"]
        if not self.store.delete(video_id):
            raise _not_found(f"Video with id '{video_id}' not found.")
        return JSONResponse({"id": video_id, "object": "video.deleted", "deleted": True})

    async def videos_list(self, request: Request) -> Response:
        q = request.query_params
        order = q.get("order", "desc")
        if order not in ("asc", "desc"):
            raise _bad("Invalid 'order': use 'asc' or 'desc'.", "order")
        try:
            limit = int(q.get("limit", "20"))
        except ValueError:
            raise _bad("Invalid 'limit': expected an integer.", "limit") from None
        if not 1 <= limit <= 100:
            raise _bad("'limit' must be between 1 and 100.", "limit")
        jobs = [j for j in self.store.all() if j.dialect == "openai"]
        jobs.sort(key=lambda j: j.seq, reverse=order == "desc")
        after = q.get("after")
        if after:
            ids = [j.id for j in jobs]
            if after not in ids:
                raise _bad(f"Invalid 'after': no video with id '{after}'.", "after")
            jobs = jobs[ids.index(after) + 1 :]
        page = jobs[:limit]
        return JSONResponse(
            {
                "object": "list",
                "data": [self.video_object(j) for j in page],
                "first_id": page[0].id if page else None,
                "last_id": page[-1].id if page else None,
                "has_more": len(jobs) > limit,
            }
        )

    async def videos_remix(self, request: Request) -> Response:
        source = self._job(request.path_params["video_id"])
        body = await _json_body(request)
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _bad(
                "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter"
            )
        if source.status != "completed":
            raise _bad(
                f"Video '{source.id}' is not completed ({source.status}); only completed videos "
                "can be remixed.",
                None,
                "invalid_state",
            )
        params = {k: v for k, v in source.params.items() if k != "input_reference"}
        job = self.store.create(
            dialect="openai",
            job_id=self.store.ids.video(),
            model=source.model,
            prompt=prompt,
            width=source.width,
            height=source.height,
            seconds=source.seconds,
            orientation=source.orientation,
            params=params,
            fail_reason=_fail_reason(request),
            remixed_from=source.id,
        )
        return JSONResponse(self.video_object(job, fresh=True))

    async def videos_content(self, request: Request) -> Response:
        job = self._job(request.path_params["video_id"])
        variant = request.query_params.get("variant", "video")
        ext = {"video": "mp4", "thumbnail": "webp", "spritesheet": "jpg"}.get(variant)
        if ext is None:
            raise _bad(
                f"Invalid 'variant': {variant!r}; use video, thumbnail or spritesheet.", "variant"
            )
        if job.status != "completed":
            raise _not_found(
                f"Video '{job.id}' has no content: its status is {job.status}, not completed."
            )
        if self.cfg.content_redirect:
            return RedirectResponse(self.cdn(job, ext), status_code=302)
        return await self.serve_media(request, job, ext)

    async def serve_media(self, request: Request, job: Job, ext: str) -> Response:
        result = await asyncio.wrap_future(self.store.rendered(job))
        path = {"mp4": result.mp4, "webp": result.thumbnail, "jpg": result.spritesheet}.get(ext)
        path = path or result.gif
        media = {"mp4": "video/mp4", "webp": "image/webp", "jpg": "image/jpeg"}.get(
            ext, "image/gif"
        )
        padding = self.cfg.video_padding if ext == "mp4" else 0
        return _file_response(request, path, media, padding)

    # ---- chat ----
    def is_video_model(self, model: str) -> bool:
        return model.lower().startswith("sora") or model in self.cfg.chat_video_models

    async def chat(self, request: Request) -> Response:
        body = await _json_body(request)
        model, messages = body.get("model"), body.get("messages")
        if not isinstance(model, str) or not model:
            raise _bad(
                "Missing required parameter: 'model'.", "model", "missing_required_parameter"
            )
        if not isinstance(messages, list) or not messages:
            raise _bad(
                "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
            )
        stream = bool(body.get("stream"))
        if self.is_video_model(model):
            return await self._chat_video(request, model, messages, stream)
        return self._chat_ordinary(request, body, model, messages, stream)

    async def _chat_video(
        self, request: Request, model: str, messages: list, stream: bool
    ) -> Response:
        prompt, images = chat_text.last_user_text(messages)
        if not prompt.strip():
            raise _bad("The last user message must contain the prompt text.", "messages")
        orientation, seconds = chat_text.chat_video_params(model, prompt)
        width, height = _unified_dims("small", orientation)
        job = self.store.create(
            dialect="chat",
            job_id=self.store.ids.task(),
            model=model,
            prompt=prompt,
            width=width,
            height=height,
            seconds=seconds,
            orientation=orientation,
            params={"size": "small", "images": images, "duration": seconds},
            fail_reason=_fail_reason(request),
        )
        chat_id, created = self.store.ids.chat(), int(time.time())
        if not stream:
            text = await self._video_text(job, task_id=job.id)
            return JSONResponse(self._completion(chat_id, model, text, prompt, created=created))
        events = self._video_events(job, task_id=job.id, conn=_ctx(request)["conn"])
        # Some relays put `usage` on the finishing chunk itself.
        usage = _usage(prompt, "video") if self.cfg.chat_template == "en" else None
        return self._sse_response(request, chat_id, model, created, events, finish_usage=usage)

    async def _video_events(
        self, job: Job, *, task_id: str, conn: _Conn | None
    ) -> AsyncIterator[Any]:
        """Deltas (dicts) of the streamed video template, and keep-alive markers."""
        words = chat_text.TEMPLATES[self.cfg.chat_template]
        yield {"role": "assistant", "content": words.header_text(job.prompt, job.orientation)}
        yield {"content": words.id_text(task_id)}
        said_queued = said_rendering = False
        last_pct = 0
        interval = min(0.25, max(0.01, job.render_seconds / 100))
        keepalive = self.cfg.chat_keepalive_seconds
        last_beat = time.monotonic()
        while True:
            current = self.store.get(job.id)
            if current is None:  # deleted while streaming
                yield {"content": words.failed_text("task deleted", after_progress=bool(last_pct))}
                return
            status = current.status
            if status == "queued" and not said_queued:
                said_queued = True
                yield {"content": words.queued}
            if status != "queued" and not said_rendering:
                said_rendering = True
                yield {"content": words.rendering}
            if status == "in_progress":
                pct = int(self.store.progress(current) * 100)
                if last_pct < pct < 100:
                    first = last_pct == 0
                    last_pct = pct
                    yield {"content": words.progress_text(pct, first=first)}
            if status in ("completed", "failed"):
                break
            if self.emu.closing.is_set() or (conn is not None and conn.disconnected):
                yield _ABORT
                return
            if keepalive and time.monotonic() - last_beat >= keepalive:
                last_beat = time.monotonic()
                yield _KEEPALIVE
            await asyncio.sleep(interval)
        if job.status == "completed":
            thumb, video = self.cdn(job, "webp"), self.cdn(job, "mp4")
            yield {"content": words.done_text(thumb, video, after_progress=bool(last_pct))}
        else:
            reason = job.fail_reason or "generation failed"
            yield {"content": words.failed_text(reason, after_progress=bool(last_pct))}

    async def _video_text(self, job: Job, *, task_id: str) -> str:
        parts = []
        async for delta in self._video_events(job, task_id=task_id, conn=None):
            if delta is _ABORT:
                raise ApiError(503, "The emulator is shutting down.")
            if isinstance(delta, dict):
                parts.append(delta.get("content", ""))
        return "".join(parts)

    def _completion(
        self,
        chat_id: str,
        model: str,
        text: str | None,
        prompt: str,
        *,
        created: int | None = None,
        tool_calls: list | None = None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if tool_calls:
            message["tool_calls"] = tool_calls
        return {
            "id": chat_id,
            "object": "chat.completion",
            "created": created or int(time.time()),
            "model": model,
            "system_fingerprint": "fp_sora_emulator",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if tool_calls else "stop",
                }
            ],
            "usage": _usage(prompt, text or json.dumps(tool_calls)),
        }

    def _chat_ordinary(
        self, request: Request, body: dict, model: str, messages: list, stream: bool
    ) -> Response:
        cfg = self.cfg
        chat_id, created = self.store.ids.chat(), int(time.time())
        prompt, _ = chat_text.last_user_text(messages)
        tool = _forced_tool(body)
        if tool is not None:
            call = {
                "id": self.store.ids.call(),
                "type": "function",
                "function": {"name": tool, "arguments": json.dumps({"prompt": prompt})},
            }
            if not stream:
                return JSONResponse(
                    self._completion(
                        chat_id, model, None, prompt, created=created, tool_calls=[call]
                    )
                )

            async def tool_events() -> AsyncIterator[Any]:
                yield {"role": "assistant", "content": None, "tool_calls": [{"index": 0, **call}]}

            return self._sse_response(
                request, chat_id, model, created, tool_events(), finish="tool_calls"
            )
        reply = chat_text.ordinary_reply(model, messages, cfg.seed, cfg.chat_chunks or 0)
        if not stream:
            return JSONResponse(self._completion(chat_id, model, reply, prompt, created=created))
        pieces = chat_text.split_chunks(reply, cfg.chat_chunks)
        delay = cfg.chat_chunk_delay

        async def events() -> AsyncIterator[Any]:
            for i, piece in enumerate(pieces):
                yield {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
                if delay:
                    await asyncio.sleep(delay)

        options = body.get("stream_options") or {}
        usage = _usage(prompt, reply) if options.get("include_usage") else None
        return self._sse_response(request, chat_id, model, created, events(), usage=usage)

    def _sse_response(
        self,
        request: Request,
        chat_id: str,
        model: str,
        created: int,
        events: AsyncIterator[Any],
        *,
        finish: str = "stop",
        usage: dict | None = None,
        finish_usage: dict | None = None,
    ) -> Response:
        cfg = self.cfg
        le = cfg.chat_line_ending
        send_done = cfg.chat_send_done
        cut = _cut_after(request)
        conn: _Conn | None = _ctx(request)["conn"]

        def chunk(delta: dict, reason: str | None = None, **extra: Any) -> bytes:
            payload = {
                "id": chat_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_sora_emulator",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
                ],
                **extra,
            }
            return f"data: {json.dumps(payload, ensure_ascii=False)}{le}{le}".encode()

        async def body() -> AsyncIterator[bytes]:
            sent = 0

            async def cut_now() -> bool:
                if cut is not None and sent >= cut and conn is not None:
                    await conn.drop(rst=False)
                    return True
                return False

            async for item in events:
                if item is _ABORT:
                    if conn is not None:
                        await conn.drop(rst=False)
                    return
                if item is _KEEPALIVE:
                    yield f": keep-alive{le}{le}".encode()
                    continue
                if await cut_now():
                    return
                yield chunk(item)
                sent += 1
            if await cut_now():
                return
            yield chunk({}, finish, **({"usage": finish_usage} if finish_usage else {}))
            sent += 1
            if usage is not None:
                if await cut_now():
                    return
                payload = {
                    "id": chat_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
                yield f"data: {json.dumps(payload)}{le}{le}".encode()
                sent += 1
            if await cut_now():
                return
            if send_done:
                yield f"data: [DONE]{le}{le}".encode()

        return StreamingResponse(
            body(),
            media_type="text/event-stream; charset=utf-8",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    # ---- models ----
    async def models(self, request: Request) -> Response:
        names = [
            *self.cfg.unified_models,
            *self.cfg.openai_models,
            *self.cfg.chat_video_models,
            "gpt-4",
            "gpt-3.5-turbo",
            "dall-e-3",
            "dall-e-2",
        ]
        data = [
            {"id": name, "object": "model", "created": 1759708800, "owned_by": "sora-emulator"}
            for name in dict.fromkeys(names)
        ]
        return JSONResponse({"object": "list", "data": data})

    # ---- images ----
    async def images(self, request: Request) -> Response:
        body = await _json_body(request)
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _bad(
                "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter"
            )
        model = body.get("model") or "dall-e-2"
        n = body.get("n", 1)
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10:
            raise _bad("'n' must be an integer between 1 and 10.", "n")
        size = body.get("size") or "1024x1024"
        wh = _parse_wh(size) if isinstance(size, str) else None
        if wh is None or not (16 <= wh[0] <= 4096 and 16 <= wh[1] <= 4096):
            raise _bad(f"Invalid 'size': {size!r}.", "size")
        rules = self.cfg.image_models.get(model) or {}
        allowed = rules.get("sizes")
        if allowed and size not in allowed:
            raise _bad(
                f"Invalid 'size' {size!r} for {model}; supported: {', '.join(allowed)}.", "size"
            )
        if n > rules.get("max_n", 10):
            raise _bad(f"{model} supports at most n={rules['max_n']}.", "n")
        fmt = body.get("response_format") or "url"
        if fmt not in ("url", "b64_json"):
            raise _bad("Invalid 'response_format': use 'url' or 'b64_json'.", "response_format")
        if "[fail]" in prompt:
            raise ApiError(
                400,
                "Your request was rejected as a result of our safety system (prompt contains "
                "[fail]).",
                "invalid_request_error",
                "content_policy_violation",
            )
        data = []
        for i in range(n):
            token = self.store.new_image_token()  # drawn in request order: deterministic
            png = await asyncio.to_thread(self.store.save_image, token, prompt, wh[0], wh[1], i)
            revised = f"{prompt} (emulator rendition {i + 1} of {n}, {size})"
            if fmt == "url":
                date = time.strftime("%Y%m%d", time.gmtime())
                data.append(
                    {"url": f"{self.emu.cdn_url}/cdn/{date}/{token}.png", "revised_prompt": revised}
                )
            else:
                data.append({"b64_json": base64.b64encode(png).decode(), "revised_prompt": revised})
        return JSONResponse({"created": int(time.time()), "data": data})


def _forced_tool(body: dict) -> str | None:
    choice = body.get("tool_choice")
    if not body.get("tools") or not isinstance(choice, dict):
        return None
    fn = choice.get("function")
    name = fn.get("name") if isinstance(fn, dict) else None
    return name if isinstance(name, str) and name else None


def _usage(prompt: str, reply: str) -> dict[str, int]:
    p, c = max(1, len(prompt.split())), max(1, len(reply.split()))
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


# --- files -----------------------------------------------------------------------------------


def _parse_range(header: str | None, total: int) -> tuple[int, int] | str | None:
    """(start, end_exclusive) for one `bytes=` range, None without a header, "bad" if unusable."""
    if not header:
        return None
    m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if not m or (not m.group(1) and not m.group(2)):
        return "bad"
    if m.group(1):
        start = int(m.group(1))
        end = int(m.group(2)) + 1 if m.group(2) else total
    else:
        start, end = max(0, total - int(m.group(2))), total
    end = min(end, total)
    if start >= total or start >= end:
        return "bad"
    return start, end


def _file_response(request: Request, path: Any, media: str, padding: int) -> Response:
    total = path.stat().st_size + padding
    rng = _parse_range(request.headers.get("range"), total)
    headers = {"accept-ranges": "bytes", "cache-control": "private, max-age=3600"}
    if rng == "bad":
        headers["content-range"] = f"bytes */{total}"
        return JSONResponse(
            error_body(416, "Requested range not satisfiable.", "invalid_request_error", None),
            status_code=416,
            headers=headers,
        )
    start, end = rng if isinstance(rng, tuple) else (0, total)
    status = 206 if isinstance(rng, tuple) else 200
    if status == 206:
        headers["content-range"] = f"bytes {start}-{end - 1}/{total}"
    headers["content-length"] = str(end - start)
    if request.method == "HEAD":
        return Response(b"", status_code=status, media_type=media, headers=headers)
    cut = _cut_after(request)
    conn: _Conn | None = _ctx(request)["conn"]
    closing = _ctx(request)["closing"]

    async def body() -> AsyncIterator[bytes]:
        pieces = iter_padded(path, padding, start, end, file_chunk=FILE_CHUNK)
        for sent, piece in enumerate(pieces):
            stopping = closing is not None and closing.is_set()
            if conn is not None and (stopping or (cut is not None and sent >= cut)):
                await conn.drop(rst=False)  # mid-body: the client sees an incomplete body
                return
            yield piece
            if conn is not None and conn.disconnected:
                return

    return StreamingResponse(body(), status_code=status, media_type=media, headers=headers)


# --- app assembly ----------------------------------------------------------------------------


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return ApiError(
            404,
            f"Invalid URL ({request.method} {request.url.path})",
            "invalid_request_error",
            "unknown_url",
        ).response()
    if exc.status_code == 405:
        return ApiError(
            405,
            f"Method {request.method} not allowed for {request.url.path}",
            "invalid_request_error",
            "method_not_allowed",
        ).response()
    return ApiError(exc.status_code, str(exc.detail)).response()


async def _server_error(request: Request, exc: Exception) -> Response:
    return ApiError(500, f"Internal emulator error: {type(exc).__name__}: {exc}").response()


_HANDLERS = {ApiError: _api_error, HTTPException: _http_error, Exception: _server_error}


def build_api_app(emu: Emulator) -> _Front:
    gw = Gateway(emu)
    routes = [
        Route("/v1/video/create", gw.unified_create, methods=["POST"]),
        Route("/v1/video/query", gw.unified_query, methods=["GET"]),
        Route("/v1/videos", gw.videos_create, methods=["POST"]),
        Route("/v1/videos", gw.videos_list, methods=["GET"]),
        Route("/v1/videos/{video_id}", gw.videos_retrieve, methods=["GET"]),
        Route("/v1/videos/{video_id}", gw.videos_delete, methods=["DELETE"]),
        Route("/v1/videos/{video_id}/content", gw.videos_content, methods=["GET"]),
        Route("/v1/videos/{video_id}/remix", gw.videos_remix, methods=["POST"]),
        Route("/v1/chat/completions", gw.chat, methods=["POST"]),
        Route("/v1/images/generations", gw.images, methods=["POST"]),
        Route("/v1/models", gw.models, methods=["GET"]),
    ]
    return _Front(emu, Starlette(routes=routes, exception_handlers=_HANDLERS), "api")


def build_cdn_app(emu: Emulator) -> _Front:
    gw = Gateway(emu)

    async def cdn_file(request: Request) -> Response:
        name = request.path_params["name"]
        token, _, ext = name.rpartition(".")
        if ext == "png":
            path = emu.store.image_path(token)
            if path is None:
                raise _not_found(f"No such file: {name}")
            return _file_response(request, path, "image/png", 0)
        job = emu.store.by_token(token)
        if job is None or ext not in ("mp4", "webp", "jpg", "gif") or job.status != "completed":
            raise _not_found(f"No such file: {name}")
        return await gw.serve_media(request, job, ext)

    routes = [Route("/cdn/{date}/{name}", cdn_file, methods=["GET"])]
    return _Front(emu, Starlette(routes=routes, exception_handlers=_HANDLERS), "cdn")
