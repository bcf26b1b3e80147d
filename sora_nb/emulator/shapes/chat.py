"""Answers of POST /v1/chat/completions: completions, stream chunks, and the text a video relay
streams while it renders.

Sources: the st-ai gateway's API docs, api.sora2.pub (`chat.completion` with `usage`;
`chat.completion.chunk` lines with `delta`), the 6ai.chat relay's API docs, api.6ai.chat (a video
model answering a chat completion; `tools` and `tool_choice`), the video chat of the 6ai.chat and
winfull relays (api.winfull.cloud-ip.cc "create video"; the video text: task id, queue and render
lines, progress, the final link), and OpenAI's chat API (`system_fingerprint`, `logprobs`,
`tool_calls`, and the last chunk with empty `choices` and `usage` when
`stream_options.include_usage` is set).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..chat_text import Template
from ..jobs import JobView
from .links import media_url

__all__ = [
    "FINGERPRINT",
    "VideoProgressText",
    "chunk",
    "completion",
    "joined_text",
    "tool_call",
    "usage",
    "usage_chunk",
]

FINGERPRINT = "fp_sora_emulator"


def usage(prompt: str, reply: str) -> dict[str, int]:
    """Token counts, approximated by words (relays count differently anyway)."""
    p, c = max(1, len(prompt.split())), max(1, len(reply.split()))
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def tool_call(call_id: str, name: str, prompt: str) -> dict[str, Any]:
    """A call of the function `tool_choice` forced, with the prompt as its argument."""
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps({"prompt": prompt})},
    }


def completion(
    chat_id: str,
    model: str,
    text: str | None,
    prompt: str,
    *,
    created: int,
    tool_calls: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A non-streamed answer: one `chat.completion` with `usage`."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": chat_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": usage(prompt, text or json.dumps(tool_calls)),
    }


def chunk(
    chat_id: str,
    model: str,
    created: int,
    delta: dict[str, Any],
    finish_reason: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One streamed `chat.completion.chunk`; `extra` adds top-level fields (e.g. `usage`)."""
    return {
        "id": chat_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        **extra,
    }


def usage_chunk(chat_id: str, model: str, created: int, counts: dict[str, int]) -> dict[str, Any]:
    """The chunk after the finishing one when `stream_options.include_usage` is set."""
    return {
        "id": chat_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": counts,
    }


def joined_text(deltas: Iterable[dict[str, Any]]) -> str:
    """The whole message of a sequence of deltas (for non-streamed answers)."""
    return "".join(d.get("content") or "" for d in deltas)


class VideoProgressText:
    """The deltas a chat relay sends while one video renders, given each look at the job.

    In order: the request echoed, the task id, "queued" (only if it waited), "rendering", the
    progress numbers as they rise (never 100, never repeated), then the links or the reason it
    failed. Pure: the caller looks at the store, sleeps and sends.
    """

    def __init__(self, words: Template, task_id: str, cdn_url: str) -> None:
        self.words, self.task_id, self.cdn_url = words, task_id, cdn_url
        self.finished = False
        self._said_queued = self._said_rendering = False
        self._last_pct = 0

    def opening(self, view: JobView) -> list[dict[str, Any]]:
        return [
            {"role": "assistant", "content": self.words.header_text(view.prompt, view.orientation)},
            {"content": self.words.id_text(self.task_id)},
        ]

    def observe(self, view: JobView | None) -> list[dict[str, Any]]:
        """The deltas this look adds; `view` None means the job was deleted meanwhile."""
        words, out = self.words, []
        after_progress = bool(self._last_pct)
        if view is None:
            self.finished = True
            return [{"content": words.failed_text("task deleted", after_progress=after_progress)}]
        status = view.status
        if status == "queued" and not self._said_queued:
            self._said_queued = True
            out.append({"content": words.queued})
        if status != "queued" and not self._said_rendering:
            self._said_rendering = True
            out.append({"content": words.rendering})
        if status == "in_progress":
            pct = int((view.progress or 0.0) * 100)  # no figure: no progress line
            if self._last_pct < pct < 100:
                first = self._last_pct == 0
                self._last_pct = pct
                out.append({"content": words.progress_text(pct, first=first)})
        if status == "completed":
            self.finished = True
            thumb = media_url(self.cdn_url, view.date, view.token, "webp")
            video = media_url(self.cdn_url, view.date, view.token, "mp4")
            out.append(
                {"content": words.done_text(thumb, video, after_progress=bool(self._last_pct))}
            )
        elif status == "failed":
            self.finished = True
            reason = view.fail_reason or "generation failed"
            out.append({"content": words.failed_text(reason, after_progress=bool(self._last_pct))})
        return out
