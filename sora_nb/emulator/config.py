"""Every knob of the emulator as one frozen value (`EmulatorConfig`), and default model rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .progress import PROFILES

__all__ = ["EmulatorConfig", "RateLimit"]


class RateLimit(NamedTuple):
    """A token bucket per API key: `rate` requests per second on average, `burst` at once."""

    rate: float
    burst: int


def _unified_models() -> dict[str, dict[str, tuple]]:
    # PROTOCOLS.md, dialect `unified` (seeds 000, 001): sizes and durations per model.
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
    # OpenAI's Images API limits, as the relays of seed 003 pass them through.
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
    unified_answer: str = "task"  # "chat": /v1/video/create answers a chat.completion (seed 000)
    # "alt": another relay's query answer: words queued/in_progress, top-level `progress` 0..100,
    # no pending_info, `status_update_time` in seconds, `error` as an object.
    unified_variant: str = "default"
    chat_line_ending: str = "\n"  # SSE framing: "\n" or "\r\n"
    chat_send_done: bool = True  # end streams with `data: [DONE]`
    chat_chunks: int | None = None  # ordinary models: split the reply into N chunks (None: words)
    chat_chunk_delay: float = 0.0  # seconds between chunks of ordinary chat replies
    chat_keepalive_seconds: float = 2.0  # SSE comment lines while a video renders
    chat_template: str = "zh"  # wording of video chat text: "zh" (seed relays) or "en" (+usage)
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
