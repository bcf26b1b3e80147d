"""The one place where httpx errors and gateway error answers become sora_nb errors.

Everything that leaves here is scrubbed of the API key: relays have been seen to echo the key
back in "invalid key" messages.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from . import _exceptions as E
from ._secret import Secret, scrub
from .dialects.errors import parse_error


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from datetime import datetime, timezone
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def from_reply(
    status: int,
    headers: Mapping[str, str],
    text: str,
    *,
    what: str,
    secrets: Iterable[Secret | str | None] = (),
) -> E.GatewayError:
    """An HTTP error answer as one line: status, what was being done, the gateway's own words."""
    secrets = list(secrets)
    answer = parse_error(status, scrub(text, secrets), reason=_reason(status))
    message = f"{status} from the gateway while {what}: {answer.message}"
    body: Any = answer.body
    kw: dict[str, Any] = {
        "status_code": status,
        "error_type": answer.type,
        "code": answer.code,
        "body": body,
    }
    if status == 429:
        if answer.quota:
            return E.QuotaExceeded(message + " (the balance or quota is used up)", **kw)
        return E.RateLimitError(message, retry_after=_retry_after(headers), **kw)
    if status in (401, 403):
        return E.AuthenticationError(message, **kw)
    if status == 404:
        return E.NotFoundError(message, **kw)
    if status in (400, 409, 413, 415, 422):
        return E.BadRequestError(message, **kw)
    if status >= 500:
        return E.ServerError(message, **kw)
    return E.GatewayError(message, **kw)


def from_transport(
    exc: httpx.HTTPError, *, what: str, secrets: Iterable[Secret | str | None] = ()
) -> E.SoraError:
    """A transport failure (no HTTP answer) as sora_nb's error."""
    detail = scrub(str(exc) or type(exc).__name__, secrets)
    # A pool timeout never got a connection either: nothing was sent.
    if isinstance(exc, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in detail:
        return E.CertificateError(
            f"the gateway's TLS certificate did not verify while {what}: {detail} (verification "
            "can be turned off by name, verify=False, for a gateway you trust)"
        )
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError | httpx.PoolTimeout):
        return E.ConnectError(f"could not connect to the gateway while {what}: {detail}")
    if isinstance(exc, httpx.TimeoutException):
        return E.TimeoutError(f"the gateway did not answer in time while {what}: {detail}")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return E.ConfigError(f"bad URL while {what}: {detail}")
    return E.TransportError(f"the connection to the gateway failed while {what}: {detail}")


def not_json(
    text: str, *, what: str, secrets: Iterable[Secret | str | None] = ()
) -> E.ProtocolError:
    snippet = scrub(text[:120], secrets).replace("\n", " ")
    return E.ProtocolError(f"the gateway's answer while {what} is not valid JSON: {snippet!r}")


def load_json(content: bytes, *, what: str, secrets: Iterable[Secret | str | None] = ()) -> Any:
    """A JSON answer, with any secret the gateway echoed (in a failure reason, say) removed."""
    text = scrub(content.decode("utf-8", "replace"), secrets)
    try:
        return json.loads(text)
    except ValueError:
        raise not_json(text, what=what, secrets=()) from None


def _reason(status: int) -> str:
    try:
        from http import HTTPStatus

        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"
