"""new-api's routes (`QuantumNous/new-api`): the video task family POST /v1/video/generations and
GET /v1/video/generations/{task_id} (router/video-router.go), the create and the content proxy it
shares with its /v1/videos, and the billing routes (router/dashboard.go)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import ApiError, RawError
from ..files import serve_media
from ..front import context
from ..jobs import Job, JobView
from ..shapes import newapi as shapes
from ..shapes.links import media_url
from ..shapes.openai import video_object
from ..state import EmulatorState
from .inputs import Upload, form_or_json, parse_wh

__all__ = ["BillingRoutes", "TaskRoutes", "create_task", "proxy_content", "task_link"]

# relay/common/relay_utils.go ValidateMultipartDirect: the sizes each sora model accepts.
SORA_SIZES = {
    "sora-2": ("720x1280", "1280x720"),
    "sora-2-pro": ("720x1280", "1280x720", "1792x1024", "1024x1792"),
}
# The emulator's own bound on what it renders (new-api passes durations on unchecked).
MAX_SECONDS = 120


def _task_error(status: int, code: str, message: str) -> RawError:
    return RawError(status, shapes.task_error(code, message))


def _as_int(value: Any) -> int:
    """Go's reading of `seconds`/`duration`: an int, or a string Atoi accepts; else 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return 0


def _images(fields: dict[str, Any]) -> list[str]:
    """Reference images as TaskSubmitReq takes them: `images`, else a single `image`
    (ValidateBasicTaskRequest, "兼容单图上传"), else `input_reference` (ValidateMultipartDirect)."""
    images = fields.get("images")
    if isinstance(images, str):
        images = [images]
    out = [u for u in images if isinstance(u, str) and u] if isinstance(images, list) else []
    for key in ("image", "input_reference"):
        value = fields.get(key)
        if not out and isinstance(value, str) and value.strip():
            out = [value]
    return out


def _metadata(value: Any) -> dict[str, Any] | None:
    """`metadata` as an object or a JSON string (TaskSubmitReq's UnmarshalJSON)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


async def create_task(state: EmulatorState, request: Request) -> Response:
    """POST /v1/video/generations, and new-api's POST /v1/videos: controller.RelayTask."""
    store = state.store
    try:
        fields, files, encoding = await form_or_json(request)
    except ApiError as exc:
        multipart = request.headers.get("content-type", "").startswith("multipart/form-data")
        code = "invalid_multipart_form" if multipart else "invalid_request"
        raise _task_error(400, code, exc.message) from None
    model = fields.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _task_error(400, "missing_model", "model field is required")
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        # relay/common/relay_utils.go validatePrompt.
        raise _task_error(400, "invalid_request", "prompt is required")
    seconds = _as_int(fields.get("seconds")) or _as_int(fields.get("duration"))
    size = fields.get("size") if isinstance(fields.get("size"), str) else ""
    if model.startswith("sora-2"):
        size = size or "720x1280"
        seconds = seconds if seconds > 0 else 4
        allowed = SORA_SIZES.get(model)
        if allowed and size not in allowed:
            raise _task_error(400, "invalid_size", "sora-2 size is invalid")
    else:
        # The ali adaptor's default ("默认5秒"); others pass the request on.
        seconds = seconds if seconds > 0 else 5
    if not 0 < seconds <= MAX_SECONDS:
        raise _task_error(400, "invalid_request", f"duration must be 1..{MAX_SECONDS} seconds")
    width, height = parse_wh(size) or (1280, 720)
    params: dict[str, Any] = {
        "images": _images(fields),
        "size": size,
        "seconds": str(seconds),
        "encoding": encoding,
    }
    for key in ("mode", "input_reference"):
        if isinstance(fields.get(key), str):
            params[key] = fields[key]
    upload: Upload | None = files.get("input_reference")
    if upload is not None:  # the sora adaptor takes the reference as a file part too
        params["input_reference"] = {
            "filename": upload.filename,
            "content_type": upload.content_type,
            "bytes": len(upload.data),
        }
    metadata = _metadata(fields.get("metadata"))
    if metadata is not None:
        params["metadata"] = metadata
    job = store.create(
        dialect="newapi",
        job_id=store.ids.newapi_task(),
        model=model,
        prompt=prompt,
        width=width,
        height=height,
        seconds=float(seconds),
        orientation="portrait" if height > width else "landscape",
        params=params,
        fail_reason=context(request).fail_reason,
    )
    headers = {}
    ratios = shapes.other_ratios(model, seconds, size)
    if ratios is not None:
        headers["X-New-Api-Other-Ratios"] = ratios
    return JSONResponse(shapes.create_answer(store.view(job)), headers=headers)


def task_link(state: EmulatorState, view: JobView) -> str:
    """Where new-api says a finished video is (service/task_polling.go): the upstream's direct
    URL (here the CDN origin), or for Sora, whose upstream gives none, the proxy
    `BuildProxyURL` = "%s/v1/videos/%s/content" on the relay's own address."""
    if shapes.is_sora(view.model):
        origin = state.base_url.removesuffix("/v1")
        return f"{origin}/v1/videos/{view.id}/content"
    return media_url(state.cdn_url, view.date, view.token, "mp4")


def task_job(state: EmulatorState, task_id: str) -> Job:
    """A task new-api would find: one created through its task or videos routes; anything else
    is 400 `task_not_exist` (relay/relay_task.go, tasks looked up per user)."""
    job = state.store.get(task_id)
    if job is None or job.dialect not in ("newapi", "openai"):
        raise _task_error(400, "task_not_exist", "task_not_exist")
    return job


async def proxy_content(state: EmulatorState, request: Request, job: Job | None) -> Response:
    """GET /v1/videos/{task_id}/content as controller/video_proxy.go VideoProxy: the bytes
    streamed (Range passed through), `Cache-Control: public, max-age=86400`, errors as
    videoProxyError."""
    if job is None:
        raise RawError(404, shapes.proxy_error("Task not found"))
    word = shapes.task_word(state.store.view(job))
    if word != "SUCCESS":
        message = f"Task is not completed yet, current status: {word}"
        raise RawError(400, shapes.proxy_error(message))
    return await serve_media(state, request, job, "mp4", cache_control="public, max-age=86400")


class TaskRoutes:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [
            Route("/v1/video/generations", self.create, methods=["POST"]),
            Route("/v1/video/generations/{task_id}", self.fetch, methods=["GET"]),
        ]

    async def create(self, request: Request) -> Response:
        return await create_task(self.state, request)

    async def fetch(self, request: Request) -> Response:
        """controller.RelayTaskFetch: the TaskDto in the TaskResponse envelope."""
        state = self.state
        job = task_job(state, request.path_params["task_id"])
        view = state.store.view(job)
        # The raw upstream JSON new-api keeps: for Sora the upstream's video object; the
        # emulator imitates no other platform's native body, so null.
        upstream = video_object(view) if shapes.is_sora(view.model) else None
        dto = shapes.task_dto(
            view,
            link=task_link(state, view),
            legacy_link=state.config.newapi_legacy_link,
            upstream=upstream,
        )
        return JSONResponse(shapes.envelope(dto))


class BillingRoutes:
    """GET …/dashboard/billing/subscription and …/usage, with and without /v1."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        out = []
        for prefix in ("/v1", ""):
            out.append(Route(f"{prefix}/dashboard/billing/subscription", self.subscription))
            out.append(Route(f"{prefix}/dashboard/billing/usage", self.usage))
        return out

    async def subscription(self, request: Request) -> Response:
        return JSONResponse(shapes.subscription(self.state.config.billing_granted))

    async def usage(self, request: Request) -> Response:
        return JSONResponse(shapes.usage(self.state.config.billing_used))
