"""Answers of the unified family: POST /v1/video/create and GET /v1/video/query.

Sources: the 6ai.chat relay's API docs, api.6ai.chat (the create request and its answer), and
the relays that publish /v1/video/query, e.g. the 6ai.chat docs (the query answer while pending,
completed and failed, and how relays differ).
"""

from __future__ import annotations

from typing import Any

from ..jobs import JobView
from .links import media_url

__all__ = ["create_answer", "ms", "query_answer"]


def ms(seconds: float) -> int:
    """A wall-clock time in whole milliseconds, as `status_update_time` carries it."""
    return int(seconds * 1000)


def create_answer(view: JobView) -> dict[str, Any]:
    # The 6ai.chat docs: {"id": "sora-2:task_01k6…", "status": "pending",
    #            "status_update_time": 1759763427208}
    return {"id": view.id, "status": "pending", "status_update_time": ms(view.created_at)}


def query_answer(view: JobView, cdn_url: str, variant: str = "default") -> dict[str, Any]:
    """The query answer, as the relays that publish /v1/video/query document it:
    `detail.pending_info.progress_pct` in 0..1, `video_url` null until completed; completed adds
    thumbnail, size, `enhanced_prompt` and `detail.url`/`detail.gif_url`; failed carries `error`
    and `pending_info.failure_reason`.

    `variant="alt"` is another relay of the same family ("Relays differ"): the status words
    queued/in_progress, a top-level `progress` 0..100 and no `pending_info`,
    `status_update_time` in seconds, `error` as an object.
    """
    status, progress = view.status, view.progress
    top = {"queued": "pending", "in_progress": "processing"}.get(status, status)
    inner = {"in_progress": "processing"}.get(status, status)
    reason = view.fail_reason if status == "failed" else None
    p = view.params
    info = {
        "status": inner,
        # No figure (the `silent` profile): null, as pending_info leaves its other unknowns
        # (`progress_pos_in_queue: null` in those relays' examples).
        "progress_pct": round(progress, 4) if progress is not None else None,
        "failure_reason": reason,
        "moderation_result": {
            "type": "blocked" if reason and "content policy" in reason else "passed"
        },
        "progress_pos_in_queue": view.queue_position,
        "estimated_queue_wait_time": view.queue_wait,
    }
    detail: dict[str, Any] = {
        "id": view.upstream_id,
        "status": top,
        "input": {
            "size": p.get("size", f"{view.width}x{view.height}"),
            "model": view.model,
            "images": p.get("images", []),
            "prompt": view.prompt,
            "orientation": view.orientation,
            "duration": p.get("duration", view.seconds),
        },
        "pending_info": info,
    }
    obj: dict[str, Any] = {
        "id": view.id,
        "status": top,
        "status_update_time": ms(view.changed_at),
        "video_url": None,
        "detail": detail,
    }
    if status == "completed":
        video = media_url(cdn_url, view.date, view.token, "mp4")
        obj.update(
            video_url=video,
            thumbnail_url=media_url(cdn_url, view.date, view.token, "webp"),
            width=view.width,
            height=view.height,
            enhanced_prompt=f"{view.prompt}. Smooth camera motion, soft cinematic light.",
        )
        detail.update(url=video, gif_url=media_url(cdn_url, view.date, view.token, "gif"))
    elif status == "failed":
        obj["error"] = reason
    if variant == "alt":
        obj["status"] = detail["status"] = status
        obj["progress"] = 100 if status == "completed" else int((progress or 0.0) * 100)
        obj["status_update_time"] //= 1000
        del detail["pending_info"]
        if status == "failed":
            obj["error"] = {"code": "generation_failed", "message": reason}
    return obj
