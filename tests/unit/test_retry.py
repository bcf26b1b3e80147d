"""retry: which failures are retried, after how long, and never a create that may have arrived."""

from __future__ import annotations

import random

import pytest

from sora_nb import _exceptions as E
from sora_nb.retry import RETRY_STATUSES, RetryPolicy, retryable


def rate_limited(retry_after=None):
    return E.RateLimitError("429", status_code=429, retry_after=retry_after)


def quota():
    return E.QuotaExceeded("429 quota", status_code=429)


def server(status):
    return E.ServerError(f"{status}", status_code=status)


def policy(**kw):
    kw.setdefault("rng", random.Random(1234))
    return RetryPolicy(**kw)


def test_retry_statuses():
    assert frozenset({429, 502, 503}) == RETRY_STATUSES


@pytest.mark.parametrize("creates", [False, True])
def test_429_without_retry_after_uses_backoff(creates):
    p = policy(base=0.5, cap=30)
    for attempt in range(1, 5):
        delay = p.delay(rate_limited(), attempt, creates=creates)
        assert delay is not None
        assert 0 <= delay <= 0.5 * 2 ** (attempt - 1)


@pytest.mark.parametrize("creates", [False, True])
@pytest.mark.parametrize("hint", [0.0, 1.0, 7.0, 60.0])
def test_429_with_retry_after_is_honoured(creates, hint):
    p = policy()
    for attempt in (1, 2, 3):
        delay = p.delay(rate_limited(hint), attempt, creates=creates)
        assert delay is not None
        assert hint <= delay <= hint + 0.1 * max(hint, 0.1) + 1e-9


def test_retry_after_is_not_limited_by_cap_and_a_long_one_is_not_waited_silently():
    p = policy(cap=2.0)
    assert p.delay(rate_limited(60.0), 1, creates=False) >= 60.0
    # Retry-After: 86400 used to put a cell to sleep (capped at 300 s) without a word; now the
    # error is raised at once and its message names the wait (see test_errors).
    assert p.delay(rate_limited(86_400.0), 1, creates=True) is None
    assert p.delay(rate_limited(61.0), 1, creates=False) is None


def test_negative_retry_after_is_zero_floor():
    delay = policy().delay(rate_limited(-5.0), 1, creates=False)
    assert delay is not None and 0.0 <= delay <= 0.01 + 1e-9


@pytest.mark.parametrize("creates", [False, True])
def test_quota_never_retried(creates):
    p = policy()
    assert p.delay(quota(), 1, creates=creates) is None
    assert not retryable(quota(), creates=creates)
    # Even with a Retry-After, an empty balance does not fill itself.
    assert p.delay(E.QuotaExceeded("q", status_code=429, retry_after=1.0), 1, creates=False) is None


@pytest.mark.parametrize("status", [502, 503])
def test_502_503_retried_for_reads(status):
    assert policy().delay(server(status), 1, creates=False) is not None


@pytest.mark.parametrize("status", [500, 501, 504, 520])
def test_other_5xx_not_retried(status):
    assert policy().delay(server(status), 1, creates=False) is None


@pytest.mark.parametrize(
    "error",
    [
        E.TimeoutError("read timeout"),
        E.TransportError("connection reset"),
        E.ConnectError("refused"),
    ],
)
def test_reads_retried_after_any_transport_failure(error):
    assert policy().delay(error, 1, creates=False) is not None


def test_creates_retried_only_when_they_cannot_have_arrived():
    p = policy()
    assert p.delay(E.ConnectError("refused"), 1, creates=True) is not None
    assert p.delay(rate_limited(), 1, creates=True) is not None
    assert p.delay(rate_limited(3.0), 1, creates=True) >= 3.0
    for error in (
        E.TimeoutError("read timeout"),
        E.TransportError("reset"),
        E.SubmissionUnknown("lost"),
        E.StreamInterrupted("cut"),
        server(502),
        server(503),
        server(500),
    ):
        assert p.delay(error, 1, creates=True) is None, error
        assert not retryable(error, creates=True)


@pytest.mark.parametrize(
    "error",
    [
        E.BadRequestError("400", status_code=400),
        E.AuthenticationError("401", status_code=401),
        E.NotFoundError("404", status_code=404),
        E.GatewayError("418", status_code=418),
        E.ProtocolError("junk"),
        E.ValidationError("bad"),
        E.ConfigError("bad"),
    ],
)
@pytest.mark.parametrize("creates", [False, True])
def test_client_side_and_answer_errors_not_retried(error, creates):
    assert policy().delay(error, 1, creates=creates) is None


@pytest.mark.parametrize("attempts", [1, 2, 5])
def test_attempts_limit_counts_first_try(attempts):
    p = policy(attempts=attempts)
    error = E.ConnectError("refused")
    delays = [p.delay(error, n, creates=False) for n in range(1, attempts + 2)]
    assert all(d is not None for d in delays[: attempts - 1])
    assert delays[attempts - 1] is None
    assert delays[attempts] is None


def test_default_attempts():
    p = RetryPolicy()
    error = E.ConnectError("refused")
    assert p.delay(error, 4, creates=False) is not None
    assert p.delay(error, 5, creates=False) is None


def test_jitter_bounds_and_cap():
    p = policy(attempts=100, base=0.5, cap=4.0)
    seen = []
    for attempt in range(1, 30):
        for _ in range(20):
            delay = p.delay(E.ConnectError("x"), attempt, creates=False)
            assert 0.0 <= delay <= min(4.0, 0.5 * 2 ** (attempt - 1))
            seen.append((attempt, delay))
    late = [d for a, d in seen if a >= 10]
    # Full jitter: spread over the range, not pinned to the cap.
    assert min(late) < 1.0 and max(late) > 3.0


def test_seeded_rng_is_deterministic():
    a = policy(rng=random.Random(7))
    b = policy(rng=random.Random(7))
    seq_a = [a.delay(E.ConnectError("x"), n, creates=False) for n in range(1, 5)]
    seq_b = [b.delay(E.ConnectError("x"), n, creates=False) for n in range(1, 5)]
    assert seq_a == seq_b
    c = policy(rng=random.Random(8))
    assert seq_a != [c.delay(E.ConnectError("x"), n, creates=False) for n in range(1, 5)]


def test_a_paced_429_is_retried_at_once_until_the_deadline_or_many_attempts():
    policy = RetryPolicy(attempts=2, paced=True, rate_limit_attempts=10)
    limited = rate_limited(retry_after=5.0)
    # The budget holds the retry back (it saw the 429 and its Retry-After): no delay of its own.
    assert policy.delay(limited, 1, creates=True) == 0.0
    assert policy.delay(limited, 50, creates=True, bounded=True) == 0.0
    assert policy.delay(limited, 10, creates=True) is None  # no deadline: a count ends it
    too_long = rate_limited(retry_after=3600.0)
    assert policy.delay(too_long, 1, creates=True, bounded=True) is None


def test_nothing_retries_an_empty_balance_or_a_turn_that_did_not_come():
    policy = RetryPolicy(paced=True)
    assert policy.delay(quota(), 1, creates=False) is None
    assert policy.delay(E.TurnTimeout("no turn"), 1, creates=False, bounded=True) is None
