"""When to send a request again, and after how long. Pure.

Retried: 429 (unless it says the balance is empty), 502, 503, and connection failures, with
exponential back-off and full jitter, honouring ``Retry-After``. A request that may start a paid
job (a create) is retried only when it cannot have been processed: a connection that never
opened, or a 429 (the gateway refused it). Never after a timeout or a dropped connection, where
the gateway may already have started the job.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ._exceptions import (
    CertificateError,
    ConnectError,
    QuotaExceeded,
    RateLimitError,
    ServerError,
    SoraError,
    TransportError,
)

RETRY_STATUSES = frozenset({429, 502, 503})


@dataclass
class RetryPolicy:
    """``attempts`` counts the first try. Delays grow from ``base`` up to ``cap`` seconds."""

    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    # The longest Retry-After waited out without a word: a gateway asking for more (86400, say)
    # gets its error raised, naming the wait, rather than a cell that sleeps for a day.
    max_retry_after: float = 60.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def delay(self, error: SoraError, attempt: int, *, creates: bool) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up and raise ``error``.

        ``attempt`` is the number of tries made so far (1 after the first).
        """
        if attempt >= self.attempts or not retryable(error, creates=creates):
            return None
        backoff = self.rng.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))
        hint = getattr(error, "retry_after", None)
        if hint is not None:
            if hint > self.max_retry_after:
                return None
            # The gateway said when; a little jitter keeps many clients from returning at once.
            return max(hint, 0.0) + self.rng.uniform(0, 0.1 * max(hint, 0.1))
        return backoff


def retryable(error: SoraError, *, creates: bool) -> bool:
    if isinstance(error, QuotaExceeded | CertificateError):
        return False
    if isinstance(error, (RateLimitError, ConnectError)):
        return True
    if creates:
        return False
    if isinstance(error, ServerError):
        return error.status_code in RETRY_STATUSES
    # Reads are safe to repeat after any transport failure (reset, timeout, cut body).
    return isinstance(error, TransportError)
