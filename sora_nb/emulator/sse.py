"""Server-Sent Events framing: `data: <json>` events, comment lines, `data: [DONE]`, and the
stream that sends them (cut mid-way by a `cut_stream` fault, or dropped when the emulator stops).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse

from .front import Conn

__all__ = ["ABORT", "KEEPALIVE", "comment", "event_stream", "frame", "sse_response"]

KEEPALIVE = object()  # marker in event sources: send a comment line, so proxies keep the stream
ABORT = object()  # marker in event sources: stop without finishing (the emulator is stopping)


def frame(data: dict[str, Any] | str, line_ending: str = "\n") -> bytes:
    """One `data:` event; a dict is sent as JSON (UTF-8, not escaped)."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}{line_ending}{line_ending}".encode()


def comment(text: str, line_ending: str = "\n") -> bytes:
    return f": {text}{line_ending}{line_ending}".encode()


async def event_stream(
    events: AsyncIterator[Any],
    *,
    line_ending: str = "\n",
    send_done: bool = True,
    cut_after: int | None = None,
    conn: Conn | None = None,
) -> AsyncIterator[bytes]:
    """Frame each event (a JSON-able dict, or a KEEPALIVE/ABORT marker), then `[DONE]`.

    With `cut_after`, the connection closes once that many events went out, before the next one,
    so the client sees a body that ends mid-stream.
    """
    sent = 0

    async def cut_now() -> bool:
        if cut_after is not None and sent >= cut_after and conn is not None:
            await conn.drop(rst=False)
            return True
        return False

    async for item in events:
        if item is ABORT:
            if conn is not None:
                await conn.drop(rst=False)
            return
        if item is KEEPALIVE:
            yield comment("keep-alive", line_ending)
            continue
        if await cut_now():
            return
        yield frame(item, line_ending)
        sent += 1
    if await cut_now():
        return
    if send_done:
        yield frame("[DONE]", line_ending)


def sse_response(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="text/event-stream; charset=utf-8",
        # No caching and no proxy buffering: each event must reach the client as it is sent.
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )
