"""The chat answers of a Sora-to-OpenAI bridge, `TheSmallHanCat/sora2api` (`chat_flavor=
"sora2api"`): progress in `delta.reasoning_content`, the video as an HTML `<video>` inside a
```` ```html ```` fence, `finish_reason` "STOP", failures as text or as a bare `{"error": …}`
event inside the HTTP 200 stream.

Source: src/services/generation_handler.py (`_format_stream_chunk`, `_poll_task_result`,
`_format_non_stream_response`, `handle_generation`) and src/api/routes.py (`generate()`), in the
versions the wording is quoted from. Pure: the caller passes the clock.
"""

from __future__ import annotations

import json
from typing import Any

from ..jobs import JobView

__all__ = [
    "AVAILABLE",
    "Sora2apiProgress",
    "availability_completion",
    "data_text",
    "error_event",
    "stream_chunk",
]

# handle_generation: the first chunk of every streamed generation.
BEGIN = "**Generation Process Begins**\n\nInitializing generation request...\n"
# _poll_task_result, video branch.
PROGRESS = "**Video Generation Progress**: {pct}% ({status})\n"
COMPLETED = (
    "**Video Generation Completed**\n\nVideo generation successful. Now caching the video file...\n"
)
CACHED = "Video file cached successfully. Preparing final response...\n"
VIOLATION = "**Content Policy Violation**\n\n{reason}\n"
FAILED = "❌ 生成失败: {reason}"
FINAL = "```html\n<video src='{url}' controls></video>\n```"
# handle_generation with stream=false: no generation, only this availability check.
AVAILABLE = (
    "All tokens available for video generation. Please enable streaming to use the generation "
    "feature."
)
# The upstream word in the progress line; sora's pending tasks read "processing".
UPSTREAM_STATUS = "processing"


def stream_chunk(
    now: float,
    *,
    content: str | None = None,
    reasoning_content: str | None = None,
    finish_reason: str | None = None,
    is_first: bool = False,
) -> dict[str, Any]:
    """_format_stream_chunk: both text keys always there (one null), `tool_calls: null`, model
    "sora", a new millisecond id per chunk, `native_finish_reason`, `usage` on every chunk."""
    delta: dict[str, Any] = {}
    if is_first:
        delta["role"] = "assistant"
    delta["content"] = content
    delta["reasoning_content"] = reasoning_content
    delta["tool_calls"] = None
    chunk: dict[str, Any] = {
        "id": f"chatcmpl-{int(now * 1000)}",
        "object": "chat.completion.chunk",
        "created": int(now),
        "model": "sora",
        "choices": [
            {
                "index": 0,
                "delta": delta,
                "finish_reason": finish_reason,
                "native_finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 0},
    }
    if finish_reason:
        chunk["usage"]["completion_tokens"] = 1
        chunk["usage"]["total_tokens"] = 1
    return chunk


def data_text(event: dict[str, Any]) -> str:
    """The text after `data: `: Python's `json.dumps` defaults, so non-ASCII is `\\u` escaped."""
    return json.dumps(event)


def error_event(message: str) -> dict[str, Any]:
    """routes.py generate(): an exception after the stream started becomes this data line
    (then `[DONE]`), inside the HTTP 200."""
    return {"error": {"message": message, "type": "server_error", "param": None, "code": None}}


def availability_completion(now: float, message: str = AVAILABLE) -> dict[str, Any]:
    """_format_non_stream_response(…, is_availability_check=True): a plain chat.completion whose
    id carries the float timestamp (`f"chatcmpl-{datetime.now().timestamp()}"`), no usage."""
    return {
        "id": f"chatcmpl-{now}",
        "object": "chat.completion",
        "created": int(now),
        "model": "sora",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": message},
                "finish_reason": "stop",
            }
        ],
    }


class Sora2apiProgress:
    """The events sora2api streams for one video, given each look at the job.

    `interval` None: a progress line whenever the whole percent changes (older versions,
    "Only yield progress update if it changed"); a number: at most one every `interval` seconds,
    the first `interval` seconds after the start (newer versions, `video_status_interval = 30`).
    `failure` "text": a failed video ends with the content-policy text (its drafts branch);
    "error": with the bare error event an exception produces. Pure: the caller passes `now`.
    """

    def __init__(self, video_url: str, *, failure: str = "text", interval: float | None = None):
        self.video_url, self.failure, self.interval = video_url, failure, interval
        self.finished = False
        self._last_pct = 0
        self._last_time = 0.0

    def opening(self, now: float) -> list[dict[str, Any]]:
        self._last_time = now
        return [stream_chunk(now, reasoning_content=BEGIN, is_first=True)]

    def observe(self, view: JobView | None, now: float) -> list[dict[str, Any]]:
        """The events this look adds; `view` None means the job was deleted meanwhile."""
        status = view.status if view is not None else "failed"
        if status in ("queued", "in_progress"):
            pct = int(((view.progress if view is not None else None) or 0.0) * 100)
            if self.interval is None:
                due = pct != self._last_pct
            else:
                due = now - self._last_time >= self.interval
            self._last_pct = pct
            if not due:
                return []
            self._last_time = now
            text = PROGRESS.format(pct=pct, status=UPSTREAM_STATUS)
            return [stream_chunk(now, reasoning_content=text)]
        self.finished = True
        if status == "completed":
            return [
                stream_chunk(now, reasoning_content=COMPLETED),
                stream_chunk(now, reasoning_content=CACHED),
                stream_chunk(now, content=FINAL.format(url=self.video_url), finish_reason="STOP"),
            ]
        reason = (view.fail_reason if view is not None else None) or "task deleted"
        if self.failure == "error":
            return [error_event(reason)]
        return [
            stream_chunk(now, reasoning_content=VIOLATION.format(reason=reason)),
            stream_chunk(now, content=FAILED.format(reason=reason), finish_reason="STOP"),
        ]
