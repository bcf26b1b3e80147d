"""Dialect ``openai``: /videos, as OpenAI's Videos API and the st-ai gateway speak it.

Pure. Creates are multipart when a local reference image is sent, JSON otherwise. Sources: OpenAI's
Videos API reference (https://platform.openai.com/docs/api-reference/videos), the ``openai``
package (``src/openai/resources/videos.py`` in openai/openai-python), and the st-ai gateway's API
docs (api.sora2.pub).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .._exceptions import ProtocolError, ValidationError
from ..models import Job, VideoRequest, normalize_status, to_datetime, to_progress
from ._base import (
    HttpRequest,
    ImageFile,
    ImageRef,
    as_float,
    as_int,
    error_text,
    first,
    link,
    number_text,
    seg,
)
from ._dialect import Abilities, Dialect, check_variant

NAME = "openai"
POLL_HINT_HEADER = "openai-poll-after-ms"
_WXH = re.compile(r"^(\d+)x(\d+)$")


def build_create(
    request: VideoRequest, images: Sequence[ImageRef] = (), *, json_only: bool = False
) -> HttpRequest:
    """``json_only``: the reference image goes as a string in a JSON body (a URL, or a local
    file as a data URI), as Sora bridges take it (DouDOU-start/go-sora2api
    server/model/dto.go VideoSubmitRequest.InputReference "URL 或 base64 data URI", bound with
    ShouldBindJSON); otherwise a local file is a multipart upload and a URL an
    ``{"image_url": …}`` reference, as OpenAI's API takes them."""
    if len(images) > 1:
        raise ValidationError("the openai dialect takes one reference image (input_reference)")
    fields: dict[str, Any] = {"prompt": request.prompt, "model": request.model}
    if request.duration is not None:
        fields["seconds"] = number_text(request.duration)
    if request.size is not None:
        fields["size"] = request.size
    image = images[0] if images else None
    if json_only and image is not None:
        fields["input_reference"] = image if isinstance(image, str) else image.data_url()
        image = None
    if isinstance(image, ImageFile):
        form = {k: str(v) for k, v in fields.items()}
        form.update({k: str(v) for k, v in request.extra.items()})
        return HttpRequest(
            "POST",
            "videos",
            "create",
            data=form,
            files={"input_reference": (image.name, image.data, image.mime)},
        )
    if image is not None:
        fields["input_reference"] = {"image_url": image}
    fields.update(request.extra)
    return HttpRequest("POST", "videos", "create", json=fields)


def build_retrieve(job_id: str) -> HttpRequest:
    return HttpRequest("GET", f"videos/{seg(job_id)}", "poll")


def build_content(job_id: str, variant: str = "video") -> HttpRequest:
    check_variant(variant)
    return HttpRequest(
        "GET", f"videos/{seg(job_id)}/content", "content", params={"variant": variant}
    )


def build_list(
    *, after: str | None = None, limit: int | None = None, order: str | None = None
) -> HttpRequest:
    if order not in (None, "asc", "desc"):
        raise ValidationError(f"order must be 'asc' or 'desc', not {order!r}")
    params = {
        k: v for k, v in {"after": after, "limit": limit, "order": order}.items() if v is not None
    }
    return HttpRequest("GET", "videos", "list", params=params)


def build_delete(job_id: str) -> HttpRequest:
    return HttpRequest("DELETE", f"videos/{seg(job_id)}", "delete")


def build_remix(job_id: str, prompt: str) -> HttpRequest:
    if not prompt or not prompt.strip():
        raise ValidationError("the remix prompt is empty")
    return HttpRequest("POST", f"videos/{seg(job_id)}/remix", "remix", json={"prompt": prompt})


def poll_hint(headers: Mapping[str, str] | None) -> float | None:
    """The server's ``openai-poll-after-ms`` hint, in seconds."""
    if not headers:
        return None
    value = as_float(headers.get(POLL_HINT_HEADER))
    return value / 1000.0 if value is not None and value >= 0 else None


def parse_job(
    body: Any,
    headers: Mapping[str, str] | None = None,
    *,
    prompt: str | None = None,
    model: str | None = None,
) -> Job:
    """A video object (OpenAI) or a task answer (st-ai) as a Job."""
    if not isinstance(body, Mapping):
        raise ProtocolError("the video answer is not a JSON object")
    job_id = first(body.get("id"), body.get("task_id"), body.get("video_id"))
    if not job_id:
        raise ProtocolError("the video answer has no id")
    status = normalize_status(body.get("status"))
    progress = to_progress(body.get("progress"))
    if status == "completed":
        progress = 100.0
    metadata = body.get("metadata") if isinstance(body.get("metadata"), Mapping) else {}
    width = as_int(first(body.get("width"), metadata.get("width")))
    height = as_int(first(body.get("height"), metadata.get("height")))
    size = body.get("size")
    if isinstance(size, str) and _WXH.match(size) and width is None:
        width, height = (int(g) for g in _WXH.match(size).groups())  # type: ignore[union-attr]
    # new-api puts a non-Sora model's link in metadata.url (relay/channel/task/kling/adaptor.go
    # ConvertToOpenAIVideo: SetMetadata("url", …)), which may also be "" or a failure text.
    video_url = first(link(body.get("video_url")), link(body.get("url")), link(metadata.get("url")))
    return Job(
        id=str(job_id),
        status=status,
        dialect=NAME,
        progress=progress,
        model=first(body.get("model"), model),
        prompt=first(body.get("prompt"), prompt),
        video_url=video_url,
        thumbnail_url=first(body.get("thumbnail_url")),
        width=width,
        height=height,
        seconds=as_float(
            first(body.get("seconds"), metadata.get("duration"), body.get("duration"))
        ),
        error=error_text(first(body.get("error"), body.get("failure_reason"))),
        created_at=to_datetime(body.get("created_at")),
        updated_at=to_datetime(first(body.get("completed_at"), body.get("updated_at"))),
        poll_after=poll_hint(headers),
        raw=body,
    )


def parse_list(body: Any) -> tuple[list[Job], str | None]:
    """A list page: its jobs, and the cursor for the next page (None at the end)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
        raise ProtocolError("the list answer has no 'data' array")
    jobs = [parse_job(item) for item in body["data"] if isinstance(item, Mapping)]
    more = bool(body.get("has_more"))
    return jobs, (first(body.get("last_id"), jobs[-1].id if jobs else None) if more else None)


class OpenAIDialect(Dialect):
    """``/videos`` (OpenAI's Videos API; the st-ai gateway's, api.sora2.pub): poll, content, list,
    delete, remix; one reference image, uploaded as a file (multipart) or sent as a URL."""

    name = NAME
    rules = "openai"
    abilities = Abilities(
        poll=True,
        list=True,
        delete=True,
        remix=True,
        content=True,
        images=("file", "url"),
        max_images=1,
    )
    description = "POST/GET /videos, /videos/{id}/content (OpenAI's Videos API, st-ai gateway)"
    json_only = False

    def build_create(self, request: VideoRequest, images: Sequence[ImageRef] = ()) -> HttpRequest:
        return build_create(request, images, json_only=self.json_only)

    def build_poll(self, job_id: str) -> HttpRequest:
        return build_retrieve(job_id)

    def build_content(self, job_id: str, variant: str = "video") -> HttpRequest:
        return build_content(job_id, variant)

    def build_list(
        self, *, after: str | None = None, limit: int | None = None, order: str | None = None
    ) -> HttpRequest:
        return build_list(after=after, limit=limit, order=order)

    def build_delete(self, job_id: str) -> HttpRequest:
        return build_delete(job_id)

    def build_remix(self, job_id: str, prompt: str) -> HttpRequest:
        return build_remix(job_id, prompt)

    def parse_job(
        self,
        body: Any,
        headers: Mapping[str, str] | None = None,
        *,
        prompt: str | None = None,
        model: str | None = None,
    ) -> Job:
        return parse_job(body, headers, prompt=prompt, model=model)

    def parse_list(self, body: Any) -> tuple[list[Job], str | None]:
        return parse_list(body)


class VideosJsonDialect(OpenAIDialect):
    """``/videos`` as Sora bridges serve it: JSON bodies only, the reference image a string (URL
    or data URI) in ``input_reference`` (DouDOU-start/go-sora2api server/handler/video.go
    resolveInputReference), the video from ``/videos/{id}/content`` (the status has no link)."""

    name = "videos-json"
    json_only = True
    abilities = Abilities(
        poll=True, delete=False, remix=True, content=True, images=("url", "data_url"), max_images=1
    )
    description = "POST/GET /videos with JSON only; input_reference as a URL or data-URI string"


OPENAI = OpenAIDialect()
VIDEOS_JSON = VideosJsonDialect()
