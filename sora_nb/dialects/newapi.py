"""Dialect ``newapi``: new-api's task routes, ``POST /video/generations`` and
``GET /video/generations/{task_id}``. Pure.

new-api (QuantumNous/new-api) is the relay software most resellers run. What its code sends
(read in its sources; the docs page differs, so both are accepted):

- create: the adaptor writes an OpenAI-style video object, unwrapped, carrying ``id`` and
  ``task_id`` (``relay/channel/task/{kling,vidu,sora}/adaptor.go`` ``DoResponse``:
  ``dto.NewOpenAIVideo()``); its docs show ``{"task_id", "status": "queued"}``;
- poll: ``{"code": "success", "message": "", "data": TaskDto}`` (``relay/relay_task.go``
  ``videoFetchByIDRespBodyBuilder``, ``dto/task.go`` ``TaskResponse``/``TaskDto``), where the
  status is one of ``NOT_START SUBMITTED QUEUED IN_PROGRESS SUCCESS FAILURE UNKNOWN``
  (``model/task.go``), ``progress`` a string such as ``"30%"``
  (``relay/channel/task/taskcommon/helpers.go``), ``fail_reason`` the upstream's reason, and the
  link in ``result_url`` (``model/task.go`` ``GetResultURL``: old versions kept it in
  ``fail_reason``); Gemini/Vertex channels wrap ``{task_id, status, url, error}`` instead
  (``tryRealtimeFetch``), and the docs show that object unwrapped;
- content: ``GET /videos/{task_id}/content`` streams the file (``controller/video_proxy.go``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._exceptions import ProtocolError
from ..models import Job, VideoRequest, normalize_status, to_datetime, to_progress
from ._base import (
    HttpRequest,
    ImageRef,
    as_float,
    error_text,
    find_video_link,
    first,
    link,
    number_text,
    seg,
)
from ._dialect import Abilities, Dialect, check_variant

NAME = "newapi"


def unwrap(body: Any) -> Any:
    """The ``data`` of new-api's ``{code, message, data}`` envelope; other bodies as they are."""
    if (
        isinstance(body, Mapping)
        and "data" in body
        and "code" in body
        and isinstance(body.get("data"), Mapping)
    ):
        return body["data"]
    return body


class NewApiDialect(Dialect):
    """new-api's task routes; its ``/videos`` routes are the ``openai`` dialect."""

    name = NAME
    # new-api's sora adaptor takes OpenAI's sizes (720x1280 …) and checks them itself.
    rules = "openai"
    abilities = Abilities(poll=True, content=True, images=("url", "data_url"))
    description = "POST /video/generations, GET /video/generations/{id} (new-api)"

    def build_create(self, request: VideoRequest, images: Sequence[ImageRef] = ()) -> HttpRequest:
        # relay/common/relay_info.go TaskSubmitReq: prompt, model, image, images, size,
        # duration (int), seconds (string), input_reference, metadata. Adaptors read what they
        # need: kling `duration`, sora `seconds`; sending both is what new-api's own clients do.
        body: dict[str, Any] = {"model": request.model, "prompt": request.prompt}
        if request.size is not None:
            body["size"] = request.size
        if request.duration is not None:
            if float(request.duration).is_integer():
                body["duration"] = int(request.duration)
            body["seconds"] = number_text(request.duration)
        refs = [i if isinstance(i, str) else i.data_url() for i in images]
        if len(refs) == 1:
            body["image"] = refs[0]
        elif refs:
            body["images"] = refs
        body.update(request.extra)
        return HttpRequest("POST", "video/generations", "create", json=body)

    def build_poll(self, job_id: str) -> HttpRequest:
        return HttpRequest("GET", f"video/generations/{seg(job_id)}", "poll")

    def build_content(self, job_id: str, variant: str = "video") -> HttpRequest:
        check_variant(variant)
        if variant != "video":
            raise self._cannot(f"serve a {variant}")
        return HttpRequest("GET", f"videos/{seg(job_id)}/content", "content")

    def parse_job(
        self,
        body: Any,
        headers: Mapping[str, str] | None = None,
        *,
        prompt: str | None = None,
        model: str | None = None,
    ) -> Job:
        data = unwrap(body)
        if not isinstance(data, Mapping):
            raise ProtocolError("the task answer is not a JSON object")
        job_id = first(data.get("task_id"), data.get("id"))
        if not job_id or isinstance(job_id, int | float):
            # TaskDto's `id` is the row number; `task_id` names the task.
            job_id = data.get("task_id")
        if not job_id:
            raise ProtocolError("the task answer has no task_id")
        status = normalize_status(data.get("status"))
        fail = data.get("fail_reason")
        # Old versions put the video's URL in fail_reason on SUCCESS (model/task.go).
        old_link = link(fail) if status == "completed" else None
        video_url = first(
            link(data.get("result_url")),
            link(data.get("url")),
            link(data.get("video_url")),
            old_link,
            link((data.get("metadata") or {}).get("url"))
            if isinstance(data.get("metadata"), Mapping)
            else None,
            find_video_link(data.get("data")) if status == "completed" else None,
        )
        progress = to_progress(data.get("progress"))
        if status == "completed":
            progress = 100.0
        error = None
        if status in ("failed", "cancelled"):
            error = error_text(first(None if old_link else fail, data.get("error")))
        props = data.get("properties") if isinstance(data.get("properties"), Mapping) else {}
        return Job(
            id=str(job_id),
            status=status,
            dialect=NAME,
            progress=progress,
            model=first(data.get("model"), props.get("origin_model_name"), model),
            prompt=first(data.get("prompt"), prompt),
            video_url=video_url,
            seconds=as_float(data.get("seconds")),
            error=error,
            created_at=to_datetime(first(data.get("created_at"), data.get("submit_time"))),
            updated_at=to_datetime(first(data.get("finish_time"), data.get("updated_at"))),
            raw=body if isinstance(body, Mapping) else {},
        )


NEWAPI = NewApiDialect()
