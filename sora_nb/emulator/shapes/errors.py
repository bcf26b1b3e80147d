"""Error answers, every family: `{"error": {"message", "type", "param", "code"}}`.

Sources: OpenAI's error object (https://platform.openai.com/docs/guides/error-codes), which the
relays copy; the status codes they use (the st-ai gateway's API docs, api.sora2.pub, list them);
429 `insufficient_quota` for an empty balance; and OpenAI's own wording for a missing or wrong
key.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "QUOTA_MESSAGE",
    "error_body",
    "incorrect_api_key",
    "missing_api_key",
    "quota_body",
    "rate_limited",
]

# status: (type, code, message) when the caller gives none.
_DEFAULT_ERRORS = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Invalid authentication."),
    403: ("permission_error", "forbidden", "You are not allowed to access this resource."),
    404: ("invalid_request_error", "not_found", "Not found."),
    408: ("server_error", "timeout", "Request timed out."),
    409: ("invalid_request_error", "conflict", "Conflict."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached. Please try again later."),
    500: (
        "server_error",
        "internal_error",
        "The server had an error while processing your request.",
    ),
    502: ("upstream_error", "bad_gateway", "Bad gateway: the upstream provider did not answer."),
    503: ("server_error", "service_unavailable", "The server is overloaded or not ready yet."),
    504: ("server_error", "gateway_timeout", "Gateway timeout."),
}

QUOTA_MESSAGE = "You exceeded your current quota, please check your plan and billing details."


def error_body(
    status: int, message: str | None = None, type: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """OpenAI-shaped error body, with defaults for the status."""
    d_type, d_code, d_msg = _DEFAULT_ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, "Error.")
    )
    return {
        "error": {
            "message": message if message is not None else d_msg,
            "type": type or d_type,
            "param": None,
            "code": code if code is not None else d_code,
        }
    }


def quota_body(
    message: str | None = None, type: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """429 for an empty balance: `type: insufficient_quota`, which no retry fixes."""
    return error_body(
        429, message or QUOTA_MESSAGE, type or "insufficient_quota", code or "insufficient_quota"
    )


def missing_api_key() -> dict[str, Any]:
    return error_body(
        401,
        "You didn't provide an API key. You need to provide your API key in an "
        "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        "invalid_request_error",
        "missing_api_key",
    )


def incorrect_api_key(received: str) -> dict[str, Any]:
    # Echoed in full on purpose: hostile relays do this, and the client must scrub it.
    return error_body(
        401,
        f"Incorrect API key provided: {received}. You can find your API key in your dashboard.",
        "invalid_request_error",
        "invalid_api_key",
    )


def rate_limited(rate: float, burst: int) -> dict[str, Any]:
    """429 from a relay's per-key request limit.

    new-api answers its request limits (middleware/model-rate-limit.go) through
    `abortWithOpenAiMessage` (middleware/utils.go), one version of which types every 429
    `rate_limit_error`; the code is OpenAI's word for it.
    """
    return error_body(
        429,
        f"Rate limit reached for this API key: {rate:g} requests per second, bursts of {burst}. "
        "Please slow down.",
        "rate_limit_error",
        "rate_limit_exceeded",
    )


def go_duration(seconds: float) -> str:
    """`seconds` as Go's `time.Duration.String` writes it, to the millisecond: "0s", "20ms",
    "1.4s", "6m0s", "1h2m3.5s" (OpenAI's reset headers are written so)."""
    ms = round(seconds * 1000)
    if ms <= 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def ratelimit_headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
    """OpenAI's request-limit headers, on every answer from a limited key.

    OpenAI API guide "Rate limits", section "Rate limits in headers": `x-ratelimit-limit-requests`
    (the requests permitted before the limit is exhausted), `x-ratelimit-remaining-requests` (a
    whole number), `x-ratelimit-reset-requests` (the time until the limit "resets to its initial
    state", a Go duration: sample values 60, 59, "1s"). A relay that forwards the upstream's
    headers passes these on; new-api's and one-api's own limits send none (their
    middleware/rate-limit.go), which is the emulator's default. The bucket's burst stands for the
    limit and its refill for the reset.
    """
    return {
        "x-ratelimit-limit-requests": str(limit),
        "x-ratelimit-remaining-requests": str(max(0, remaining)),
        "x-ratelimit-reset-requests": go_duration(reset),
    }
