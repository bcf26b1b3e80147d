"""Answers of OpenAI's Videos API (/v1/videos…), as the official `openai` package reads them.

Source: OpenAI's Videos API reference, https://platform.openai.com/docs/api-reference/videos
(the video object, the list page, the deleted object), and the `openai` package's
`src/openai/resources/videos.py` (openai/openai-python). The st-ai gateway's variant of the same
routes (api.sora2.pub) is `stai.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..jobs import JobView

__all__ = ["deleted", "list_page", "seconds_text", "video_object"]

EXPIRES_AFTER = 86400  # seconds a finished video stays downloadable (`expires_at`)


def seconds_text(seconds: float) -> str:
    """OpenAI's `seconds` is a string ("4", "8", "12"): whole numbers without a decimal point."""
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def video_object(view: JobView, *, fresh: bool = False) -> dict[str, Any]:
    """The video object: `id, object="video", model, status, progress (0..100), created_at,
    completed_at, expires_at, seconds (a string), size, prompt, remixed_from_video_id, error`.

    `fresh`: the answer to a create or remix, which always reports the job as just queued.
    """
    status, progress = ("queued", 0.0) if fresh else (view.status, view.progress)
    # `progress` is an integer that is always there: 0 when the upstream gives no figure, as
    # new-api's OpenAIVideo has it (QuantumNous/new-api, dto/openai_video.go: `Progress int`).
    progress = progress or 0.0
    completed_at = (
        int(view.ended_at) if status == "completed" and view.ended_at is not None else None
    )
    error = None
    if status == "failed":
        reason = view.fail_reason or "generation failed"
        code = "moderation_blocked" if "content policy" in reason else "generation_failed"
        error = {"code": code, "message": reason}
    return {
        "id": view.id,
        "object": "video",
        "model": view.model,
        "status": status,
        "progress": 100 if status == "completed" else int(progress * 100),
        "created_at": int(view.created_at),
        "completed_at": completed_at,
        "expires_at": completed_at + EXPIRES_AFTER if completed_at is not None else None,
        "seconds": view.params.get("seconds", seconds_text(view.seconds)),
        "size": f"{view.width}x{view.height}",
        "prompt": view.prompt,
        "remixed_from_video_id": view.remixed_from,
        "error": error,
    }


def list_page(page: Sequence[JobView], *, has_more: bool) -> dict[str, Any]:
    """GET /v1/videos: OpenAI's cursor page (`data`, `first_id`, `last_id`, `has_more`)."""
    return {
        "object": "list",
        "data": [video_object(v) for v in page],
        "first_id": page[0].id if page else None,
        "last_id": page[-1].id if page else None,
        "has_more": has_more,
    }


def deleted(video_id: str) -> dict[str, Any]:
    """DELETE /v1/videos/{id}: OpenAI's deletion receipt."""
    return {"id": video_id, "object": "video.deleted", "deleted": True}
