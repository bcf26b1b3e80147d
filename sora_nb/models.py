"""The values sora_nb hands to users: Job, ChatEvent, ImageResult, VideoRequest.

Pure data: no I/O. Status words from every gateway are normalised here to one small set.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

Status = Literal["queued", "in_progress", "completed", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})

# Words seen on relays, grouped by meaning. Anything else means "still running": a job is never
# taken for finished because a gateway invented a new word.
_STATUS_WORDS: dict[str, Status] = {
    **dict.fromkeys(
        [
            "queued",
            "queue",
            "queueing",
            "pending",
            "submitted",
            "waiting",
            "created",
            "not_start",
            "not_started",
            "new",
            "scheduled",
        ],
        "queued",
    ),
    **dict.fromkeys(
        [
            "in_progress",
            "processing",
            "running",
            "generating",
            "rendering",
            "started",
            "in_queue_processing",
            "progress",
            "working",
        ],
        "in_progress",
    ),
    **dict.fromkeys(
        [
            "completed",
            "complete",
            "succeeded",
            "success",
            "successful",
            "done",
            "finished",
            "ready",
            "succeed",
        ],
        "completed",
    ),
    **dict.fromkeys(
        [
            "failed",
            "failure",
            "fail",
            "error",
            "errored",
            "rejected",
            "expired",
            "timeout",
            "timed_out",
        ],
        "failed",
    ),
    **dict.fromkeys(["cancelled", "canceled", "deleted", "aborted"], "cancelled"),
}


def normalize_status(word: object) -> Status:
    """Map a gateway's status word to one of Job's five statuses.

    >>> normalize_status("SUCCEEDED"), normalize_status("brewing")
    ('completed', 'in_progress')
    """
    if not isinstance(word, str):
        return "in_progress"
    key = word.strip().lower().replace("-", "_").replace(" ", "_")
    return _STATUS_WORDS.get(key, "in_progress")


def to_datetime(value: object) -> datetime | None:
    """A timestamp in seconds or milliseconds (or ISO 8601 text) as an aware UTC datetime."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
        # Anything past year 33658 in seconds is surely milliseconds.
        seconds = value / 1000.0 if value > 1e12 else float(value)
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            return to_datetime(float(text))
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return None


def to_progress(value: object, *, fraction: bool = False) -> float | None:
    """Progress as 0..100. ``fraction=True`` when the gateway sends 0..1."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        value = value.strip().rstrip("%")
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    pct = float(value) * 100.0 if fraction else float(value)
    return max(0.0, min(100.0, pct))


@dataclass(frozen=True)
class Job:
    """A video generation job as the gateway last described it.

    ``status`` is one of ``queued``, ``in_progress``, ``completed``, ``failed``, ``cancelled``;
    ``progress`` is 0..100 or None; ``raw`` keeps the gateway's own answer.
    """

    id: str
    status: Status
    dialect: str
    progress: float | None = None
    model: str | None = None
    prompt: str | None = None
    video_url: str | None = None
    thumbnail_url: str | None = None
    width: int | None = None
    height: int | None = None
    seconds: float | None = None
    error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    poll_after: float | None = None  # the gateway's own hint, seconds until the next poll
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def done(self) -> bool:
        """True once the job will not change any more."""
        return self.status in TERMINAL

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    def changed_from(self, other: Job | None) -> bool:
        """Whether a user would see a difference from ``other`` (status, progress, links, error)."""
        if other is None:
            return True
        return (self.status, self.progress, self.video_url, self.error) != (
            other.status,
            other.progress,
            other.video_url,
            other.error,
        )


class _BuiltOnRead:
    """A dataclass field holding text that may be given as a zero-argument callable, called
    once, on first read (a stream's text so far: building it for every event would make a
    stream of n chunks cost n² characters). Reads, ``==``, ``repr``, ``replace`` and pickling
    all see the ``str``."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = f"_{name}_value"

    def __get__(self, obj: object, owner: type | None = None) -> str:
        if obj is None:  # no class-level default: the field stays required
            raise AttributeError(self._slot)
        value = obj.__dict__[self._slot]
        if not isinstance(value, str):
            value = value()
            obj.__dict__[self._slot] = value
        return value  # type: ignore[no-any-return]

    def __set__(self, obj: object, value: str | Callable[[], str]) -> None:
        obj.__dict__[self._slot] = value


@dataclass(frozen=True)
class ChatEvent:
    """One step of a streamed chat answer.

    ``text`` is this step's new text; ``full_text`` everything so far; ``progress``, ``task_id`` and
    ``video_urls`` are what the text has revealed so far (video models report these in prose).
    ``full_text`` may be given as a zero-argument callable; it is then built on first read.
    """

    text: str
    full_text: str = _BuiltOnRead()  # type: ignore[assignment]
    progress: float | None = None
    task_id: str | None = None
    video_urls: tuple[str, ...] = ()
    finish_reason: str | None = None
    tool_calls: tuple[Mapping[str, Any], ...] = ()
    usage: Mapping[str, Any] | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def video_url(self) -> str | None:
        """The last video link seen, which is the finished one."""
        return self.video_urls[-1] if self.video_urls else None

    def __getstate__(self) -> dict[str, Any]:
        # Pickles and copies carry the text itself, not the stream it would be built from.
        state = dict(self.__dict__)
        state["_full_text_value"] = self.full_text
        return state


@dataclass(frozen=True)
class ImageResult:
    """One generated image: a URL or inline bytes, and the prompt the model actually used."""

    url: str | None = None
    b64_json: str | None = field(default=None, repr=False)
    revised_prompt: str | None = None

    def data(self) -> bytes | None:
        """The image bytes when the gateway sent them inline."""
        if self.b64_json is None:
            return None
        import base64

        return base64.b64decode(self.b64_json)


@dataclass(frozen=True)
class VideoRequest:
    """What to generate, before any dialect has shaped it into a request.

    ``images`` holds URLs or local file paths. ``size`` is a size word (``small``/``large``) or
    ``WIDTHxHEIGHT``; ``duration`` is seconds. ``extra`` passes gateway-specific fields through.
    """

    prompt: str
    model: str
    orientation: str | None = None
    size: str | None = None
    duration: float | None = None
    images: Sequence[str] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
