"""Dialect ``unified``: POST /video/create and GET /video/query. Pure.

Sources: the 6ai.chat relay's API docs (api.6ai.chat) and the xiaojingai relay's Sora-2
integration guide (open.xiaojingai.com) for the create; for the query route and its
``detail.pending_info`` answer, the relays that publish /v1/video/query (e.g. the 6ai.chat docs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._exceptions import ProtocolError
from ..models import Job, VideoRequest, normalize_status, to_datetime, to_progress
from . import chat
from ._base import HttpRequest, ImageRef, as_int, dig, error_text, first
from ._dialect import Abilities, Dialect

NAME = "unified"


def build_create(request: VideoRequest, images: Sequence[ImageRef] = ()) -> HttpRequest:
    """The create request. Every field is sent: the relays reject requests missing any."""
    duration = request.duration
    body: dict[str, Any] = {
        # Local files travel as data URLs; the relays take URLs here, and most accept data URLs.
        "images": [i if isinstance(i, str) else i.data_url() for i in images],
        "model": request.model,
        "orientation": request.orientation,
        "prompt": request.prompt,
        "size": request.size,
        "duration": int(duration)
        if duration is not None and float(duration).is_integer()
        else duration,
    }
    body.update(request.extra)
    return HttpRequest("POST", "video/create", "create", json=body)


def build_query(job_id: str) -> HttpRequest:
    # httpx encodes the query value, so ids with ':' or '/' arrive intact.
    return HttpRequest("GET", "video/query", "poll", params={"id": job_id})


def parse_job(
    body: Any,
    headers: Mapping[str, str] | None = None,
    *,
    prompt: str | None = None,
    model: str | None = None,
) -> Job:
    """A create or query answer as a Job, whichever of the relays' shapes it has."""
    if not isinstance(body, Mapping):
        raise ProtocolError("the video answer is not a JSON object")
    if "choices" in body and "status" not in body:
        # The 6ai.chat docs' second shape: a chat completion whose text carries the task.
        state = chat.completion_state(body)
        state.done = False  # the text describes a job that is still running unless it links
        state.finish_reason = None
        job = state.job(dialect=NAME, model=model, prompt=prompt)
        return Job(**{**job.__dict__, "id": job.id or str(body.get("id") or ""), "raw": body})
    detail = body.get("detail") if isinstance(body.get("detail"), Mapping) else {}
    pending = detail.get("pending_info") if isinstance(detail.get("pending_info"), Mapping) else {}
    job_id = first(body.get("id"), body.get("task_id"), detail.get("id"))
    if not job_id:
        raise ProtocolError("the video answer has no job id")
    status = normalize_status(first(body.get("status"), detail.get("status")))
    progress = to_progress(body.get("progress"))
    if progress is None:
        progress = to_progress(pending.get("progress_pct"), fraction=True)
    inner = pending.get("status")
    if status == "queued" and (
        (isinstance(inner, str) and normalize_status(inner) == "in_progress") or (progress or 0) > 0
    ):
        # Relays say "pending" for the whole run; the detail (or moving progress) knows better.
        status = "in_progress"
    if status == "completed":
        progress = 100.0
    video_url = first(body.get("video_url"), detail.get("url"), body.get("url"))
    error = error_text(
        first(
            body.get("error"),
            pending.get("failure_reason"),
            body.get("fail_reason"),
            body.get("failure_reason"),
        )
    )
    if status == "failed" and not error:
        moderation = dig(pending, "moderation_result", "type")
        error = f"moderation: {moderation}" if moderation not in (None, "passed") else None
    inputs = detail.get("input") if isinstance(detail.get("input"), Mapping) else {}
    return Job(
        id=str(job_id),
        status=status,
        dialect=NAME,
        progress=progress,
        model=first(body.get("model"), inputs.get("model"), model),
        prompt=first(inputs.get("prompt"), body.get("prompt"), prompt),
        video_url=video_url if isinstance(video_url, str) else None,
        thumbnail_url=first(
            body.get("thumbnail_url"), detail.get("thumbnail_url"), detail.get("gif_url")
        ),
        width=as_int(body.get("width")),
        height=as_int(body.get("height")),
        seconds=None,
        error=error,
        created_at=to_datetime(first(body.get("created_at"), body.get("created"))),
        updated_at=to_datetime(body.get("status_update_time")),
        raw=body,
    )


class UnifiedDialect(Dialect):
    """``/video/create`` + ``/video/query?id=`` (the 6ai.chat and xiaojingai relays): poll only;
    images as URLs (local files inline as data URLs)."""

    name = NAME
    rules = "unified"
    abilities = Abilities(poll=True, images=("url", "data_url"))
    description = "POST /video/create, GET /video/query?id= (6ai.chat, xiaojingai relays)"

    def build_create(self, request: VideoRequest, images: Sequence[ImageRef] = ()) -> HttpRequest:
        return build_create(request, images)

    def build_poll(self, job_id: str) -> HttpRequest:
        return build_query(job_id)

    def parse_job(
        self,
        body: Any,
        headers: Mapping[str, str] | None = None,
        *,
        prompt: str | None = None,
        model: str | None = None,
    ) -> Job:
        return parse_job(body, headers, prompt=prompt, model=model)


UNIFIED = UnifiedDialect()
