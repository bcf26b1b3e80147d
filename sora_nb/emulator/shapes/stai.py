"""Answers of the st-ai gateway's /v1/videos: same routes as OpenAI's, other shapes.

Its API docs (api.sora2.pub): POST /v1/videos answers
`{"task_id": "abcd1234efgh", "status": "queued"}`; GET /v1/videos/{task_id} answers
`{"id", "object": "video", "model", "status", "progress": 65, "created_at"}`, and once completed
also `completed_at` and `metadata: {"duration", "fps", "width", "height"}`.
"""

from __future__ import annotations

from typing import Any

from ..jobs import JobView

__all__ = ["DEFAULT_FPS", "create_answer", "task_object"]

DEFAULT_FPS = 30  # the st-ai docs' example metadata


def create_answer(view: JobView) -> dict[str, Any]:
    return {"task_id": view.id, "status": "queued"}


def task_object(view: JobView) -> dict[str, Any]:
    status, progress = view.status, view.progress or 0.0  # no figure: 0, an integer as in 003
    obj: dict[str, Any] = {
        "id": view.id,
        "object": "video",
        "model": view.model,
        "status": status,
        "progress": 100 if status == "completed" else int(progress * 100),
        "created_at": int(view.created_at),
    }
    if status == "completed" and view.ended_at is not None:
        obj["completed_at"] = int(view.ended_at)
        obj["metadata"] = {
            "duration": view.seconds,
            "fps": view.params.get("fps", DEFAULT_FPS),
            "width": view.width,
            "height": view.height,
        }
    elif status == "failed":
        # The st-ai docs list the status word `failed` but show no failed answer; OpenAI's error
        # object is what its clients read.
        obj["error"] = {"code": "generation_failed", "message": view.fail_reason}
    return obj
