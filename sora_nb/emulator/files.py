"""Serving files: single-range requests, mp4s padded with a trailing `free` box, and the CDN
origin's one route."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .errors import not_found
from .front import context
from .jobs import Job
from .render import iter_padded
from .shapes.errors import error_body
from .shapes.links import CDN_ROUTE
from .state import EmulatorState

__all__ = ["FILE_CHUNK", "cdn_routes", "file_response", "parse_range", "serve_media"]

FILE_CHUNK = 64 * 1024  # unit of `cut_stream` on downloads: small enough to cut a small mp4
MEDIA_TYPES = {"mp4": "video/mp4", "webp": "image/webp", "jpg": "image/jpeg", "gif": "image/gif"}


def parse_range(header: str | None, total: int) -> tuple[int, int] | str | None:
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


def file_response(
    request: Request,
    path: Path,
    media: str,
    padding: int,
    cache_control: str = "private, max-age=3600",
) -> Response:
    """The file (plus `padding` bytes of `free` box), whole or one range, streamed in chunks."""
    total = path.stat().st_size + padding
    rng = parse_range(request.headers.get("range"), total)
    headers = {"accept-ranges": "bytes", "cache-control": cache_control}
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
    ctx = context(request)
    cut, conn, closing = ctx.cut_after, ctx.conn, ctx.closing

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


async def serve_media(
    state: EmulatorState, request: Request, job: Job, ext: str, **headers: str
) -> Response:
    """One of a job's files (mp4, webp thumbnail, jpg spritesheet, gif), rendered on first need;
    `cache_control=` overrides that header."""
    result = await asyncio.wrap_future(state.store.rendered(job))
    path = {"mp4": result.mp4, "webp": result.thumbnail, "jpg": result.spritesheet}.get(ext)
    path = path or result.gif
    media = MEDIA_TYPES.get(ext, "image/gif")
    padding = state.config.video_padding if ext == "mp4" else 0
    return file_response(request, path, media, padding, **headers)


def cdn_routes(state: EmulatorState) -> list[Route]:
    """The CDN origin: job files once completed, and generated images."""

    async def cdn_file(request: Request) -> Response:
        name = request.path_params["name"]
        token, _, ext = name.rpartition(".")
        if ext == "png":
            path = state.store.image_path(token)
            if path is None:
                raise not_found(f"No such file: {name}")
            return file_response(request, path, "image/png", 0)
        job = state.store.by_token(token)
        if job is None or ext not in MEDIA_TYPES or job.status != "completed":
            raise not_found(f"No such file: {name}")
        return await serve_media(state, request, job, ext)

    return [Route(CDN_ROUTE, cdn_file, methods=["GET"])]
