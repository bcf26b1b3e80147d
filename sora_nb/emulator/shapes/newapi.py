"""Answers of new-api (`QuantumNous/new-api`), the relay software most resellers run: its video
task family (`/v1/video/generations`), the OpenAI-style `/v1/videos` objects it builds for each
platform, its error bodies and the billing routes it serves to API keys.

Every shape names the file of new-api it follows. Where versions or platforms disagree, the
caller picks (`EmulatorConfig.videos_flavor`, `newapi_legacy_link`).
"""

from __future__ import annotations

import string
import time
from typing import Any

from ..jobs import JobView
from .openai import seconds_text, video_object

__all__ = [
    "KEY_CHARS",
    "QUOTA_MESSAGE",
    "STATUS_WORDS",
    "create_answer",
    "envelope",
    "invalid_url",
    "is_sora",
    "is_task_route",
    "other_ratios",
    "platform",
    "progress_int",
    "proxy_error",
    "relay_quota_error",
    "request_id",
    "subscription",
    "task_dto",
    "task_error",
    "task_progress",
    "task_word",
    "usage",
    "video_status",
    "videos_object",
]

# model/task.go: TaskStatusNotStart … TaskStatusUnknown.
STATUS_WORDS = (
    "NOT_START",
    "SUBMITTED",
    "QUEUED",
    "IN_PROGRESS",
    "SUCCESS",
    "FAILURE",
    "UNKNOWN",
)
# relay/channel/task/taskcommon/helpers.go (ProgressSubmitted … ProgressComplete) and
# model/task.go InitTask (`Progress: "0%"`): what each word reports when the upstream gives no
# figure; service/task_polling.go sets FAILURE to "100%" as well.
_WORD_PROGRESS = {
    "NOT_START": "0%",
    "SUBMITTED": "10%",
    "QUEUED": "20%",
    "IN_PROGRESS": "30%",
    "SUCCESS": "100%",
    "FAILURE": "100%",
}
# model/task.go TaskStatus.ToVideoStatus(): every other word (NOT_START, UNKNOWN) is "unknown".
_VIDEO_STATUS = {
    "SUBMITTED": "queued",
    "QUEUED": "queued",
    "IN_PROGRESS": "in_progress",
    "SUCCESS": "completed",
    "FAILURE": "failed",
}
# constant/channel.go channel types; TaskDto.platform carries the type as a string.
_PLATFORMS = (("sora", "55"), ("kling", "50"), ("jimeng", "51"), ("vidu", "52"), ("doubao", "54"))
# common/utils.go keyChars, the alphabet of GenerateRandomCharsKey (task ids, request ids).
KEY_CHARS = string.digits + string.ascii_lowercase + string.ascii_uppercase
# service/billing_session.go: "用户额度不足, 剩余额度: %s" with logger.FormatQuota of the balance.
QUOTA_MESSAGE = "用户额度不足, 剩余额度: ＄0.000000"
# controller/billing.go GetSubscription: an unlimited token reports this amount.
UNLIMITED = 100000000


def is_sora(model: str) -> bool:
    return model.lower().startswith("sora")


def platform(model: str) -> str:
    """TaskDto.platform: the channel type serving `model` (kling's for models of unknown make)."""
    name = model.lower()
    return next((code for prefix, code in _PLATFORMS if name.startswith(prefix)), "50")


def task_word(view: JobView) -> str:
    """The status word new-api stores for the job now.

    Waiting for a render slot is `NOT_START` (InitTask; the poller has seen no move yet),
    waiting upstream is `QUEUED`, rendering `IN_PROGRESS`. SUBMITTED and UNKNOWN exist in
    model/task.go but no emulated job takes them (service/task_polling.go never sets UNKNOWN).
    """
    if view.status == "completed":
        return "SUCCESS"
    if view.status == "failed":
        return "FAILURE"
    if view.queue_position is not None:
        return "NOT_START"
    return "QUEUED" if view.status == "queued" else "IN_PROGRESS"


def task_progress(word: str, view: JobView) -> str:
    """`progress` as new-api stores it: a string with "%".

    service/task_polling.go sets the word's fixed figure, then any figure the adaptor gave; only
    the sora adaptor gives one (`fmt.Sprintf("%d%%", …)` when 0 < p < 100).
    """
    if word == "IN_PROGRESS" and is_sora(view.model) and view.progress is not None:
        pct = int(view.progress * 100)
        if 0 < pct < 100:
            return f"{pct}%"
    return _WORD_PROGRESS.get(word, "0%")


def progress_int(progress: str) -> int:
    """dto/openai_video.go SetProgressStr: "%" trimmed, Atoi, 0 when that fails."""
    text = progress.removesuffix("%")
    return int(text) if text.isdigit() else 0


def video_status(word: str) -> str:
    return _VIDEO_STATUS.get(word, "unknown")


def _reason(view: JobView) -> str:
    return view.fail_reason or "task failed"


def envelope(data: Any) -> dict[str, Any]:
    """dto/task.go TaskResponse: `message` has no omitempty, so it is always there."""
    return {"code": "success", "message": "", "data": data}


def task_error(code: str, message: str) -> dict[str, Any]:
    """dto/task.go TaskError, as the task handlers write it (`c.JSON(taskErr.StatusCode, …)`)."""
    return {"code": code, "message": message, "data": None}


def task_dto(
    view: JobView,
    *,
    link: str | None,
    legacy_link: bool = False,
    upstream: Any = None,
    word: str | None = None,
) -> dict[str, Any]:
    """GET /v1/video/generations/{id}'s `data`: dto/task.go TaskDto, filled by TaskModel2Dto
    (relay/relay_task.go), fields in the struct's order.

    `link` is where a finished video is (service/task_polling.go: the upstream's direct URL, or
    the `/v1/videos/{id}/content` proxy). `result_url` is model/task.go GetResultURL(), which
    falls back to `fail_reason`: a failed task repeats its reason there. `legacy_link`: old
    new-api kept the link itself in `fail_reason` on SUCCESS ("旧数据回退到 FailReason").
    `upstream` is the raw upstream JSON kept in `data` (null when none is emulated).
    """
    word = word or task_word(view)
    fail_reason = ""
    if word == "FAILURE":
        fail_reason = _reason(view)
    elif word == "SUCCESS" and legacy_link and link:
        fail_reason = link
    result_url = (link or fail_reason) if word == "SUCCESS" else fail_reason
    started = word in ("IN_PROGRESS", "SUCCESS", "FAILURE") and view.started_at is not None
    images = view.params.get("images") or []
    dto: dict[str, Any] = {
        "id": view.seq,
        "created_at": int(view.created_at),
        "updated_at": int(view.changed_at),
        "task_id": view.id,
        "platform": platform(view.model),
        "user_id": 1,
        "group": "default",
        "channel_id": 1,
        "quota": 0,
        # relay/common/relay_utils.go ValidateBasicTaskRequest; constant/task.go.
        "action": "generate" if images else "textGenerate",
        "status": word,
        "fail_reason": fail_reason,
    }
    if result_url:  # `json:"result_url,omitempty"`
        dto["result_url"] = result_url
    dto.update(
        {
            "submit_time": int(view.created_at),
            "start_time": int(view.started_at) if started and view.started_at else 0,
            "finish_time": int(view.ended_at) if view.ended_at is not None else 0,
            "progress": task_progress(word, view),
            "properties": {
                "input": "",
                "upstream_model_name": view.model,
                "origin_model_name": view.model,
            },
            "data": upstream,
        }
    )
    return dto


def create_answer(view: JobView) -> dict[str, Any]:
    """The answer to POST /v1/video/generations (and new-api's POST /v1/videos): not wrapped.

    The adaptors write dto/openai_video.go OpenAIVideo (`NewOpenAIVideo()`: object "video",
    status "queued") with `id` and `task_id` both the public id (relay/channel/task/kling and
    vidu adaptor.go DoResponse). The sora adaptor relays the upstream's video object with the id
    swapped (relay/channel/task/sora/adaptor.go), so it also has `seconds` and `size`.
    """
    obj: dict[str, Any] = {
        "id": view.id,
        "task_id": view.id,  # `//兼容旧接口 待废弃`: kept for old clients
        "object": "video",
        "model": view.model,
        "status": "queued",
        "progress": 0,
        "created_at": int(view.created_at),
    }
    if is_sora(view.model):
        obj["seconds"] = view.params.get("seconds", seconds_text(view.seconds))
        obj["size"] = f"{view.width}x{view.height}"
    return obj


def other_ratios(model: str, seconds: int, size: str) -> str | None:
    """The `X-New-Api-Other-Ratios` header of a create (relay/relay_task.go), as Go marshals the
    map: relay/common/relay_utils.go ValidateMultipartDirect prices sora-2 models by seconds and
    size (1.666667 for the 1792 sizes). None for other models."""
    if not model.startswith("sora-2"):
        return None
    ratio = "1.666667" if size in ("1792x1024", "1024x1792") else "1"
    return f'{{"seconds":{seconds},"size":{ratio}}}'


def videos_object(view: JobView, *, link: str | None, word: str | None = None) -> dict[str, Any]:
    """GET /v1/videos/{id} on new-api: relay/relay_task.go hands the task to the platform's
    ConvertToOpenAIVideo; the answer is not wrapped. Three platforms, three shapes:

    - sora (relay/channel/task/sora/adaptor.go): the stored upstream video object with `id`,
      `status` and `progress` overwritten; no link (use `/content`); `unknown` reads `queued`
      ("unknown 不是合法的 OpenAI 视频状态 … 统一回退为 queued").
    - kling (relay/channel/task/kling/adaptor.go): built fresh, `model` never set (""),
      `created_at`/`completed_at` from kling's own body (milliseconds), the link in
      `metadata.url` and `seconds` once done, `error.message` from `task_status_msg`.
    - others (model/task.go Task.ToOpenAIVideo): `model` the requested name, seconds,
      `completed_at` = updated_at, `metadata.url` = GetResultURL() always ("" while running,
      the failure text once failed).

    Status words through TaskStatus.ToVideoStatus(): "unknown" while NOT_START.
    """
    word = word or task_word(view)
    status = video_status(word)
    progress = progress_int(task_progress(word, view))
    if is_sora(view.model):
        obj = video_object(view)
        obj.update(status="queued" if status == "unknown" else status, progress=progress)
        if word == "FAILURE":
            obj["error"] = {**(obj.get("error") or {}), "message": _reason(view)}
        return obj
    obj = {"id": view.id, "object": "video"}
    if view.model.lower().startswith("kling"):
        obj.update(
            model="",
            status=status,
            progress=progress,
            created_at=int(view.created_at * 1000),
            completed_at=int(view.changed_at * 1000),
        )
        if word == "SUCCESS" and link:
            obj["seconds"] = seconds_text(view.seconds)
            obj["metadata"] = {"url": link}
        elif word == "FAILURE":
            obj["error"] = {"message": _reason(view), "code": ""}
        return obj
    url = (link or "") if word == "SUCCESS" else (_reason(view) if word == "FAILURE" else "")
    obj.update(
        model=view.model,
        status=status,
        progress=progress,
        created_at=int(view.created_at),
        completed_at=int(view.changed_at),
        metadata={"url": url},
    )
    return obj


# --- errors ----------------------------------------------------------------------------------


def invalid_url(method: str, path: str) -> dict[str, Any]:
    """404 for any route new-api does not serve: controller/relay.go RelayNotFound, reached
    through router/web-router.go NoRoute for `/v1…` paths."""
    return {
        "error": {
            "message": f"Invalid URL ({method} {path})",
            "type": "invalid_request_error",
            "param": "",
            "code": "",
        }
    }


def proxy_error(message: str, type: str = "invalid_request_error") -> dict[str, Any]:
    """controller/video_proxy.go videoProxyError: OpenAI-ish, without `param` or `code`."""
    return {"error": {"message": message, "type": type}}


def is_task_route(path: str) -> bool:
    """Routes whose handlers answer errors as TaskError (router/video-router.go)."""
    return path.startswith(("/v1/video/generations", "/v1/videos", "/kling/", "/jimeng"))


def request_id(now: float, suffix: str) -> str:
    """A request id as new-api's middleware makes one: common/utils.go GetTimeString() (UTC
    "20060102150405" then the nanoseconds, unpadded) followed by random key characters."""
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(now))
    return f"{stamp}{int(now * 1e9) % 1_000_000_000}{suffix}"


def relay_quota_error(message: str, req_id: str) -> dict[str, Any]:
    """403 for an empty balance on relay routes (chat, images, …): controller/relay.go Relay()
    appends the request id (common.MessageWithRequestId) and writes ToOpenAIError()."""
    return {
        "error": {
            "message": f"{message} (request id: {req_id})",
            "type": "new_api_error",
            "param": "",
            "code": "insufficient_user_quota",
        }
    }


# --- billing ---------------------------------------------------------------------------------


def _go_number(value: float) -> float | int:
    """A float64 as Go's encoding/json writes it: no ".0" on whole numbers."""
    return int(value) if float(value).is_integer() else value


def subscription(granted: float | None, access_until: int = 0) -> dict[str, Any]:
    """GET /v1/dashboard/billing/subscription: controller/billing.go GetSubscription with
    OpenAISubscriptionResponse (controller/channel-billing.go). Every limit is the total granted
    (remaining + used), not what is left; None is an unlimited token."""
    amount = _go_number(UNLIMITED if granted is None else granted)
    return {
        "object": "billing_subscription",
        "has_payment_method": True,
        "soft_limit_usd": amount,
        "hard_limit_usd": amount,
        "system_hard_limit_usd": amount,
        "access_until": access_until,
    }


def usage(used: float) -> dict[str, Any]:
    """GET /v1/dashboard/billing/usage: controller/billing.go GetUsage, `total_usage` in cents
    (`amount * 100`, "unit: 0.01 dollar"); start_date/end_date are ignored."""
    return {"object": "list", "total_usage": _go_number(used * 100)}
