"""Every knob of the emulator as one frozen value (`EmulatorConfig`), and default model rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .progress import PROFILES

__all__ = ["FAMILIES", "EmulatorConfig", "RateLimit"]

# Route families one emulator can serve (`families=`): unified /v1/video/create|query, OpenAI's
# /v1/videos, new-api's task routes /v1/video/generations (and its /v1/videos/{id}/content
# proxy), chat, images, /v1/models, and the billing routes one-api/new-api serve to API keys.
FAMILIES = ("unified", "videos", "tasks", "chat", "images", "models", "billing")


class RateLimit(NamedTuple):
    """A token bucket per API key: `rate` requests per second on average, `burst` at once."""

    rate: float
    burst: int


def _unified_models() -> dict[str, dict[str, tuple]]:
    # Sizes and durations per model: the 6ai.chat and xiaojingai relay docs, plus the longer
    # clips some relays add (sora-2 15 s, sora-2-pro 25 s).
    return {
        "sora-2": {"sizes": ("small", "large"), "durations": (10, 15)},
        "sora-2-pro": {"sizes": ("large",), "durations": (15, 25)},
    }


def _openai_models() -> dict[str, dict[str, tuple]]:
    # OpenAI's Videos API: `seconds` as strings, the sizes each model renders.
    return {
        "sora-2": {"sizes": ("720x1280", "1280x720"), "seconds": ("4", "8", "12")},
        "sora-2-pro": {
            "sizes": ("720x1280", "1280x720", "1024x1792", "1792x1024"),
            "seconds": ("4", "8", "12"),
        },
    }


def _image_models() -> dict[str, dict[str, Any]]:
    # OpenAI's Images API limits, as relays such as the st-ai gateway pass them through.
    return {
        "dall-e-3": {"sizes": ("1024x1024", "1792x1024", "1024x1792"), "max_n": 1},
        "dall-e-2": {"sizes": ("256x256", "512x512", "1024x1024"), "max_n": 10},
    }


@dataclass(frozen=True)
class EmulatorConfig:
    """Every knob of the emulator. Change them at runtime with `Emulator.set(...)`."""

    job_seconds: float = 2.0  # render time of one job once it starts rendering
    concurrency: int = 4  # jobs rendering at once; the rest queue (FIFO)
    seed: int | None = None  # ids, content and random faults deterministic by request order
    api_key: str | None = None  # the only bearer key accepted; None accepts any request
    render_scale: float = 0.25  # rendered file size relative to the reported size
    render_fps: int = 24
    poll_hint_ms: int | None = None  # `openai-poll-after-ms` on GET /v1/videos/{id}
    video_padding: int = 0  # bytes of a trailing `free` box appended to every served mp4
    content_redirect: bool = False  # /v1/videos/{id}/content answers 302 to the CDN
    unified_answer: str = "task"  # "chat": /v1/video/create answers a chat.completion (6ai.chat)
    # "alt": another relay's query answer: words queued/in_progress, top-level `progress` 0..100,
    # no pending_info, `status_update_time` in seconds, `error` as an object.
    unified_variant: str = "default"
    chat_line_ending: str = "\n"  # SSE framing: "\n" or "\r\n"
    chat_send_done: bool = True  # end streams with `data: [DONE]`
    chat_chunks: int | None = None  # ordinary models: split the reply into N chunks (None: words)
    chat_chunk_delay: float = 0.0  # seconds between chunks of ordinary chat replies
    chat_keepalive_seconds: float = 2.0  # SSE comment lines while a video renders
    chat_template: str = "zh"  # wording of video chat text: "zh" (the relays' own) or "en" (+usage)
    chat_video_models: tuple[str, ...] = ()  # chat models that render video (besides "sora*")
    unified_models: dict[str, dict[str, tuple]] = field(default_factory=_unified_models)
    openai_models: dict[str, dict[str, tuple]] = field(default_factory=_openai_models)
    image_models: dict[str, dict[str, Any]] = field(default_factory=_image_models)
    # How reported progress moves (`progress.py`): "linear" (default), "queue_jumps", "plateau",
    # "low_then_done" or "silent". Seeded per job; durations scale with job_seconds.
    progress_profile: str = "linear"
    # Per-key request limit of the gateway origin, e.g. (2, 5): 2 requests/s, bursts of 5;
    # beyond it 429 `rate_limit_error`. None: no limit.
    rate_limit: RateLimit | tuple[float, int] | None = None
    rate_limit_retry_after: bool = True  # send `Retry-After` with those 429s (some relays don't)
    # Send OpenAI's `x-ratelimit-*-requests` headers on every answer to a limited key (a relay
    # forwarding OpenAI's own; new-api's and one-api's limits send none: the default).
    rate_limit_headers: bool = False
    # Which route families this instance serves; the others answer new-api's 404 "Invalid URL",
    # so a test can stand up e.g. a relay with only new-api's routes: families=("tasks",).
    families: tuple[str, ...] = FAMILIES
    # GET /v1/videos/{id}: "openai" (OpenAI's object) or "newapi" (new-api's per-platform objects:
    # `metadata.url`, `model` "" for kling, status "unknown" until started; list and delete
    # unrouted; unknown ids 400 `task_not_exist`; /content as new-api's proxy).
    videos_flavor: str = "openai"
    # Video models on /v1/chat/completions: "default" (the relays' Chinese text) or "sora2api"
    # (reasoning_content progress, an html <video> fence, finish_reason "STOP").
    chat_flavor: str = "default"
    sora2api_failure: str = "text"  # "text": `❌ 生成失败: …`; "error": a bare {"error": …} event
    # Seconds between sora2api progress lines (newer versions: 30); None: on every change.
    sora2api_status_interval: float | None = None
    # new-api task polls: old versions kept the finished video's link in `fail_reason` too.
    newapi_legacy_link: bool = False
    # Billing routes: the total granted (remaining + used; None: an unlimited token), and used.
    billing_granted: float | None = 25.0
    billing_used: float = 0.0

    def __post_init__(self) -> None:
        if self.job_seconds < 0:
            raise ValueError("job_seconds must be >= 0")
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if not 0 < self.render_scale <= 4:
            raise ValueError("render_scale must be in (0, 4]")
        if self.video_padding != 0 and self.video_padding < 8:
            raise ValueError("video_padding must be 0 or at least 8 (one mp4 box header)")
        if self.unified_answer not in ("task", "chat"):
            raise ValueError("unified_answer must be 'task' or 'chat'")
        if self.unified_variant not in ("default", "alt"):
            raise ValueError("unified_variant must be 'default' or 'alt'")
        if self.chat_template not in ("zh", "en"):
            raise ValueError("chat_template must be 'zh' or 'en'")
        if self.chat_line_ending not in ("\n", "\r\n"):
            raise ValueError(r"chat_line_ending must be '\n' or '\r\n'")
        if self.chat_chunks is not None and self.chat_chunks < 1:
            raise ValueError("chat_chunks must be >= 1")
        if not 1 <= self.render_fps <= 60:
            raise ValueError("render_fps must be in 1..60")
        if self.progress_profile not in PROFILES:
            raise ValueError(f"progress_profile must be one of {', '.join(PROFILES)}")
        families = self.families
        if isinstance(families, str):
            families = [f for f in families.replace(" ", "").split(",") if f]
        families = tuple(families)
        unknown = [f for f in families if f not in FAMILIES]
        if unknown:
            raise ValueError(f"unknown route families {unknown}; use some of {', '.join(FAMILIES)}")
        object.__setattr__(self, "families", families)  # frozen: normalise once, here
        if self.videos_flavor not in ("openai", "newapi"):
            raise ValueError("videos_flavor must be 'openai' or 'newapi'")
        if self.chat_flavor not in ("default", "sora2api"):
            raise ValueError("chat_flavor must be 'default' or 'sora2api'")
        if self.sora2api_failure not in ("text", "error"):
            raise ValueError("sora2api_failure must be 'text' or 'error'")
        if self.sora2api_status_interval is not None and self.sora2api_status_interval < 0:
            raise ValueError("sora2api_status_interval must be None or >= 0")
        if self.billing_granted is not None and self.billing_granted < 0:
            raise ValueError("billing_granted must be None or >= 0")
        if self.billing_used < 0:
            raise ValueError("billing_used must be >= 0")
        if self.rate_limit is not None:
            value = self.rate_limit
            if not isinstance(value, tuple | list) or len(value) != 2:
                raise ValueError("rate_limit must be (rate, burst), e.g. (2, 5)")
            try:
                limit = RateLimit(float(value[0]), int(value[1]))
            except (TypeError, ValueError):
                raise ValueError("rate_limit must be (rate, burst), e.g. (2, 5)") from None
            if not limit.rate > 0 or limit.burst < 1:
                raise ValueError("rate_limit must be (rate > 0 per second, burst >= 1)")
            object.__setattr__(self, "rate_limit", limit)  # frozen: normalise once, here
