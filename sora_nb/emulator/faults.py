"""Fault injection: what a flaky relay does to requests, scripted (`times`) or random (`rate`).

    emu.add_fault(Fault(kind="poll", action="status", status=429, headers={"Retry-After": "1"},
                        times=2))

Actions:
- ``status``: answer ``status`` with an OpenAI-shaped error body and ``headers``;
- ``quota``: 429 with ``type: insufficient_quota`` (an empty balance; no retry helps); with
  ``style="newapi"`` new-api's answer instead: 403 ``insufficient_user_quota``, as a task error
  ``{"code", "message", "data": null}`` on task routes and ``{"error": {…}}`` elsewhere;
- ``reset``: abort the TCP connection (RST) without any answer; a create is still carried out
  first, so the job exists server-side although the client never learns its id;
- ``close``: like ``reset`` but a clean close (FIN): the client sees "server disconnected";
- ``slow``: wait ``delay`` seconds, then answer normally (a create is carried out before the wait);
- ``malformed``: 200 with a truncated JSON body;
- ``cut_stream``: a streamed answer (chat SSE, a download) stops after ``after_chunks`` chunks and
  the connection closes mid-body;
- ``fail_job``: the job is accepted but fails while rendering, with ``message`` as the reason.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from .shapes import newapi
from .shapes.errors import error_body, quota_body

__all__ = ["ACTIONS", "KINDS", "Fault", "FaultSet"]

KINDS = (
    "create",
    "poll",
    "download",
    "chat",
    "images",
    "list",
    "delete",
    "remix",
    "cdn",
    "billing",
    "other",
)
ACTIONS = ("status", "quota", "reset", "close", "slow", "malformed", "cut_stream", "fail_job")
STYLES = ("openai", "newapi")  # whose words a `quota` fault answers in

# Which request kinds an action can affect; a fault is only spent on requests it can affect.
_APPLIES = {
    "cut_stream": {"chat", "download", "cdn"},
    "fail_job": {"create", "chat", "remix"},
}

DEFAULT_FAIL_REASON = "content policy violation: the request was flagged by the moderation system"


@dataclass
class Fault:
    """One injected misbehaviour. `kind` is the request kind it matches ("any" for all)."""

    kind: str = "any"
    action: str = "status"
    rate: float | None = None
    times: int | None = None
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    delay: float = 0.0
    after_chunks: int = 0
    quota: bool = False
    type: str | None = None
    code: str | None = None
    style: str = "openai"

    def __post_init__(self) -> None:
        if self.kind != "any" and self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {('any', *KINDS)}")
        if self.action not in ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}; one of {ACTIONS}")
        if self.rate is not None and not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be >= 0")
        if self.style not in STYLES:
            raise ValueError(f"unknown fault style {self.style!r}; one of {STYLES}")
        if self.quota and self.action == "status":
            self.action = "quota"
        if self.style == "newapi" and self.action != "quota":
            raise ValueError("style='newapi' applies to action='quota' only")
        if self.action == "quota":
            # new-api: types.ErrorCodeInsufficientUserQuota with http.StatusForbidden
            # (service/billing_session.go), not OpenAI's 429.
            self.status = 403 if self.style == "newapi" else 429

    def applies_to(self, kind: str) -> bool:
        if self.kind not in ("any", kind):
            return False
        allowed = _APPLIES.get(self.action)
        return allowed is None or kind in allowed

    def body(self, path: str = "") -> dict:
        """The error body; a new-api style answer depends on the route (`path`)."""
        if self.action == "quota" and self.style == "newapi":
            message = self.message or newapi.QUOTA_MESSAGE
            if newapi.is_task_route(path):
                # service.TaskErrorFromAPIError: code and message, no request id.
                return newapi.task_error(self.code or "insufficient_user_quota", message)
            suffix = "".join(random.choices(newapi.KEY_CHARS, k=8))
            return newapi.relay_quota_error(message, newapi.request_id(time.time(), suffix))
        if self.action == "quota":
            return quota_body(self.message, self.type, self.code)
        return error_body(self.status, self.message, self.type, self.code)

    @property
    def reason(self) -> str:
        """Failure reason for `fail_job`."""
        return self.message or DEFAULT_FAIL_REASON


class FaultSet:
    """The active faults, consulted once per request; the first matching fault wins."""

    def __init__(self, faults: Iterable[Fault] | None, rng: random.Random) -> None:
        # Copies: `times` counts down here, the caller's Fault objects stay as written.
        self._faults: list[Fault] = [replace(f) for f in faults or []]
        self._rng = rng
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(replace(fault))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def snapshot(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def pick(self, kind: str) -> Fault | None:
        with self._lock:
            for fault in list(self._faults):
                if not fault.applies_to(kind):
                    continue
                if fault.times is not None and fault.times <= 0:
                    self._faults.remove(fault)
                    continue
                # Draw only for faults with a rate, so scripted faults don't shift the sequence.
                if fault.rate is not None and self._rng.random() >= fault.rate:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
            return None
