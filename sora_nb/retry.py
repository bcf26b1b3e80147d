"""When to send a request again, and after how long. Pure.

Retried: 429 (unless it says the balance is empty), 502, 503, and connection failures, with
exponential back-off and full jitter, honouring ``Retry-After``. A request that may start a paid
job (a create) is retried only when it cannot have been processed: a connection that never
opened, or a 429 (the gateway refused it). Never after a timeout or a dropped connection, where
the gateway may already have started the job, and never after its turn did not come in time
(:class:`TurnTimeout`: it was not sent, and its deadline has passed).

A policy that is ``paced`` serves a client whose every gateway request waits its turn in the
gateway's request budget (``sora_nb.budget``): a 429 is then retried at once, the turn being the
wait, for as long as the request's deadline allows (or ``rate_limit_attempts`` times when it has
none), instead of after a few back-offs: the budget has learned from that very 429 and holds
everyone back until the gateway takes requests again.
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
    TurnTimeout,
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
    # Requests wait their turn in the gateway's budget (the client's drivers do): 429s are
    # retried on the budget's pace until the deadline.
    paced: bool = False
    rate_limit_attempts: int = 30
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def delay(
        self, error: SoraError, attempt: int, *, creates: bool, bounded: bool = False
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up and raise ``error``.

        ``attempt`` is the number of tries made so far (1 after the first). ``bounded``: the
        caller has a deadline, which ends the retries of a paced 429 instead of a count.
        """
        if self.paced and rate_limited(error):
            hint = getattr(error, "retry_after", None)
            if hint is not None and hint > self.max_retry_after:
                return None
            return 0.0 if bounded or attempt < self.rate_limit_attempts else None
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


def rate_limited(error: SoraError) -> bool:
    """A 429 that waiting fixes (not an empty balance)."""
    return isinstance(error, RateLimitError) and not isinstance(error, QuotaExceeded)


def retryable(error: SoraError, *, creates: bool) -> bool:
    if isinstance(error, QuotaExceeded | CertificateError | TurnTimeout):
        return False
    if isinstance(error, (RateLimitError, ConnectError)):
        return True
    if creates:
        return False
    if isinstance(error, ServerError):
        return error.status_code in RETRY_STATUSES
    # Reads are safe to repeat after any transport failure (reset, timeout, cut body).
    return isinstance(error, TransportError)
