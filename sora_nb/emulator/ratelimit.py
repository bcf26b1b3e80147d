"""Per-key token buckets: the request limits relays put on each API key (per key or per user,
answered with 429, with or without `Retry-After`: new-api's `middleware/rate-limit.go` in
QuantumNous/new-api; OpenAI's guide, https://platform.openai.com/docs/guides/rate-limits).

Pure arithmetic on a clock the caller passes in; `Limiter` adds the per-key table and a lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["Limiter", "TokenBucket"]


@dataclass
class TokenBucket:
    """`burst` tokens at most, refilled at `rate` per second; a request takes one."""

    rate: float
    burst: int
    tokens: float
    stamp: float  # clock of the last refill

    @classmethod
    def full(cls, rate: float, burst: int, now: float) -> TokenBucket:
        return cls(rate, burst, float(burst), now)

    def take(self, now: float) -> float:
        """0.0 if a token was taken; else the seconds until one is there (nothing taken)."""
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def refill_time(self) -> float:
        """Seconds until the bucket is full again, as of the last `take`."""
        return (self.burst - self.tokens) / self.rate


class Limiter:
    """One bucket per key, created full on the key's first request."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, rate: float, burst: int, now: float) -> tuple[float, int, float]:
        """As `TokenBucket.take`, for the bucket of `key`; with the whole requests left in it and
        the seconds until it is full again, after this request."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket.full(rate, burst, now)
            wait = bucket.take(now)
            return wait, int(bucket.tokens), bucket.refill_time()

    def clear(self) -> None:
        """Forget every bucket (a new limit starts with full ones)."""
        with self._lock:
            self._buckets.clear()
