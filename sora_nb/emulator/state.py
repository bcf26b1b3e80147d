"""What the emulator's two origins share: the knobs, the job store, the active faults, counters
and request logs.

The routes and the front see only this; `server.Emulator` adds the running servers on top.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable
from dataclasses import fields, replace
from typing import Any, NamedTuple

from .config import EmulatorConfig
from .faults import KINDS, Fault, FaultSet
from .jobs import Ids, JobStore, JobsView
from .ratelimit import Limiter
from .shapes.errors import ratelimit_headers

__all__ = ["COUNTER_KINDS", "EmulatorState", "RequestRecord"]

COUNTER_KINDS = KINDS  # create, poll, download, chat, images, list, delete, remix, cdn, other


class RequestRecord(NamedTuple):
    """One request that reached the gateway origin."""

    kind: str
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names; Authorization kept (this is the gateway)
    query: str  # the raw query string, still URL-encoded


class EmulatorState:
    """Knobs, jobs, faults and logs, safe to share between the two server threads."""

    def __init__(
        self, config: EmulatorConfig | None = None, faults: Iterable[Fault] | None = None
    ) -> None:
        self._config = self._started_with = config or EmulatorConfig()
        self._faults = _fault_set(faults, self._config.seed)
        self.store = JobStore(Ids(self._config.seed), lambda: self._config)
        self._lock = threading.Lock()
        self._counters = dict.fromkeys(COUNTER_KINDS, 0)
        self._counters_429 = dict.fromkeys(COUNTER_KINDS, 0)
        self._requests: list[RequestRecord] = []
        self._cdn_requests: list[dict[str, Any]] = []
        self._limiter = Limiter()
        self.closing = threading.Event()  # set on stop: streams and blocking waits end
        self.base_url = ""
        self.cdn_url = ""  # origin of the file URLs in answers; known once the server is bound

    # --- knobs ---
    @property
    def config(self) -> EmulatorConfig:
        return self._config

    def set(self, **changes: Any) -> None:
        """Change knobs at runtime, e.g. `emu.set(job_seconds=0.1, concurrency=8)`.

        A new job_seconds or progress_profile applies to jobs created afterwards; concurrency
        applies at once; a new rate_limit starts every key with a full bucket.
        """
        names = {f.name for f in fields(EmulatorConfig)}
        unknown = set(changes) - names
        if unknown:
            raise TypeError(f"unknown emulator option(s): {', '.join(sorted(unknown))}")
        if "seed" in changes:
            raise TypeError("seed cannot change while running")
        with self.store.lock:
            # Settle the schedule under the old knobs first, so the change starts from now.
            self.store.tick()
            self._config = replace(self._config, **changes)
            self.store.tick()
        if "rate_limit" in changes:
            self._limiter.clear()

    def reset(self) -> None:
        """Back to the state it started in, without restarting its servers: the knobs it was
        started with, no jobs (ids drawn from the seed again, rendered files removed), no
        faults, zero counters, empty request logs, full rate-limit buckets. Tests that share
        one running emulator call it between tests; a request in flight meanwhile may see
        either state."""
        old = self.store
        with old.lock:
            self._config = self._started_with
            self._faults = _fault_set((), self._config.seed)
            self.store = JobStore(Ids(self._config.seed), lambda: self._config)
        old.close()
        self._limiter.clear()
        self.reset_counters()

    # --- observation ---
    @property
    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counters)

    @property
    def counters_429(self) -> dict[str, int]:
        """429 answers per request kind, whoever sent them (the rate limit, or a 429 fault).

        With `counters` (every request per kind) this gives the share of 429 answers.
        """
        with self._lock:
            return dict(self._counters_429)

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    @property
    def cdn_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._cdn_requests]

    @property
    def jobs(self) -> JobsView:
        return JobsView(self.store)

    def reset_counters(self) -> None:
        """Zero the counters and forget the request logs."""
        with self._lock:
            self._counters = dict.fromkeys(COUNTER_KINDS, 0)
            self._counters_429 = dict.fromkeys(COUNTER_KINDS, 0)
            self._requests.clear()
            self._cdn_requests.clear()

    def record(self, kind: str, scope: dict[str, Any]) -> None:
        """Count one request and log it (called by the front for every request)."""
        headers: dict[str, str] = {}
        for name, value in scope.get("headers", []):
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        query = scope.get("query_string", b"").decode("latin-1")
        with self._lock:
            self._counters[kind] = self._counters.get(kind, 0) + 1
            if kind == "cdn":
                self._cdn_requests.append(
                    {
                        "method": scope["method"],
                        "path": scope["path"],
                        "query": query,
                        "headers": headers,
                    }
                )
            else:
                self._requests.append(
                    RequestRecord(kind, scope["method"], scope["path"], headers, query)
                )

    def count_429(self, kind: str) -> None:
        with self._lock:
            self._counters_429[kind] = self._counters_429.get(kind, 0) + 1

    # --- rate limit ---
    def rate_limit(self, key: str) -> tuple[float | None, dict[str, str]]:
        """What the per-key limit says of this request by `key`: None if it may go now (a token
        is taken), else the seconds until it may; and the rate-limit headers its answer carries
        (none unless `rate_limit_headers` asks for them)."""
        limit = self._config.rate_limit
        if limit is None:
            return None, {}
        rate, burst = limit
        wait, left, refill = self._limiter.take(key, rate, burst, time.monotonic())
        headers = ratelimit_headers(burst, left, refill) if self._config.rate_limit_headers else {}
        return wait or None, headers

    # --- faults ---
    def add_fault(self, fault: Fault) -> None:
        self._faults.add(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """The faults still active (copies; `times` shows what is left)."""
        return self._faults.snapshot()

    def pick_fault(self, kind: str) -> Fault | None:
        return self._faults.pick(kind)


def _fault_set(faults: Iterable[Fault] | None, seed: int | None) -> FaultSet:
    """Faults drawn by chance (``probability``) are drawn from the seed, when there is one."""
    rng = random.Random(f"sora-emulator-faults:{seed}") if seed is not None else random.Random()
    return FaultSet(faults, rng)
