"""The one place where httpx errors and gateway error answers become sora_nb errors.

Everything that leaves here is scrubbed of the API key: relays have been seen to echo the key
back in "invalid key" messages, and an httpx error can quote a request header (an illegal
header line) with the key in it. That includes the chain a translated error carries: see
:func:`from_transport` for how to raise one.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from . import _exceptions as E
from ._secret import Secret, scrub, scrub_bytes
from .budget import retry_after
from .dialects.errors import parse_error


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
        wait = retry_after(headers)  # the one reading of Retry-After, the budget's
        if wait is not None and wait > 60:
            message += f" (the gateway asks to wait {_duration(wait)} before trying again)"
        return E.RateLimitError(message, retry_after=wait, **kw)
    if status in (402, 403) and answer.quota:
        # new-api answers an empty balance with 403 insufficient_user_quota ("用户额度不足"),
        # not 429 (service/billing_session.go): no retry and no new key helps.
        return E.QuotaExceeded(message + " (the balance or quota is used up)", **kw)
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
    """A transport failure (no HTTP answer) as sora_nb's error, chained to a scrubbed copy of
    ``exc`` (see :func:`scrub_chain`); ``exc`` and its chain are scrubbed in place too.

    Raise the result as it is, without ``from exc``::

        except httpx.HTTPError as exc:
            error = _errors.from_transport(exc, what=..., secrets=...)
            raise error  # or: raise Wrapper(...) from error

    Its ``__cause__`` is already the scrubbed copy, and ``__suppress_context__`` hides the
    original that Python records as ``__context__`` (itself scrubbed of the key, but still
    holding its traceback's frames and, on httpx errors, ``.request`` with its headers).
    ``raise error from exc`` would show the original instead; ``raise error from None`` would
    drop the copy.
    """
    secrets = list(secrets)
    _scrub_in_place(exc, secrets)
    error = _translate_transport(exc, what=what, secrets=secrets)
    error.__cause__ = scrub_chain(exc, secrets)
    error.__suppress_context__ = True
    return error


def _translate_transport(
    exc: httpx.HTTPError, *, what: str, secrets: list[Secret | str | None]
) -> E.SoraError:
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


class ScrubbedError(Exception):
    """Stands in for an exception whose own type could not be rebuilt with scrubbed arguments;
    its message names that type."""


def _scrub_value(value: Any, secrets: list[Secret | str | None]) -> Any:
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, bytes | bytearray):
        return scrub_bytes(bytes(value), secrets)
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub(repr(value), secrets)  # an object: only its (scrubbed) picture is kept


def scrub_chain(
    exc: BaseException | None,
    secrets: Iterable[Secret | str | None],
    _copies: dict[int, BaseException | None] | None = None,
) -> BaseException | None:
    """A copy of ``exc`` and of everything chained to it (``__cause__``, ``__context__``), for
    showing in a traceback: each of the same type (so ``isinstance`` checks still work), with
    its arguments scrubbed of ``secrets``, and nothing else: no traceback (whose frames' locals
    can hold request headers) and no attributes (an httpx error's ``.request`` carries the
    Authorization header). A type that cannot be rebuilt that way, or whose message would still
    show a secret, becomes a :class:`ScrubbedError` naming it."""
    if exc is None:
        return None
    secrets = list(secrets)
    copies = {} if _copies is None else _copies
    if id(exc) in copies:
        return copies[id(exc)]
    copies[id(exc)] = None  # a cycle back here ends the chain
    args = tuple(_scrub_value(a, secrets) for a in exc.args)
    kind = type(exc)
    copy: BaseException
    try:
        try:
            copy = kind(*args)
        except Exception:  # a constructor that wants more (keywords): the bare instance
            copy = kind.__new__(kind, *args)
        copy.args = args
        shown = str(copy)
        if scrub(shown, secrets) != shown:
            raise ValueError("still shows a secret")
    except Exception:
        name = f"{kind.__module__}.{kind.__qualname__}"
        copy = ScrubbedError(f"{name}: {scrub(_safe_str(exc), secrets)}")
    copies[id(exc)] = copy
    copy.__cause__ = scrub_chain(exc.__cause__, secrets, copies)
    copy.__context__ = scrub_chain(exc.__context__, secrets, copies)
    copy.__suppress_context__ = exc.__suppress_context__
    return copy


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return type(exc).__name__


def _scrub_in_place(exc: BaseException, secrets: list[Secret | str | None]) -> None:
    """Scrub the arguments of ``exc`` and of everything chained to it, in place: Python records
    a handled exception as the ``__context__`` of what is raised while handling it."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        # An exception type that will not take new arguments keeps its own.
        with contextlib.suppress(Exception):
            item.args = tuple(_scrub_value(a, secrets) for a in item.args)
        todo += [item.__cause__, item.__context__]


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
    except (ValueError, RecursionError):  # RecursionError: nested past Python's limit
        raise not_json(text, what=what, secrets=()) from None


# Fields that make an answer a job, a chat answer or a list, even when it also has "error".
_ANSWER_FIELDS = ("id", "task_id", "choices", "data", "video_id")
_AUTH_WORDS = ("api_key", "api key", "authentication", "unauthorized", "invalid_token")


def refusal(body: Any, *, what: str) -> E.SoraError | None:
    """The gateway's error when an HTTP 200 answer is an error object and nothing else
    (relays do this): its own message as one line, not "the answer has no id". None otherwise."""
    if not isinstance(body, Mapping):
        return None
    error = body.get("error")
    if not error or any(body.get(k) not in (None, "", [], {}) for k in _ANSWER_FIELDS):
        return None
    answer = parse_error(200, json.dumps(body, ensure_ascii=False))
    message = f"the gateway answered 200 with an error while {what}: {answer.message}"
    kw: dict[str, Any] = {
        "status_code": 200,
        "error_type": answer.type,
        "code": answer.code,
        "body": answer.body,
    }
    words = " ".join(str(v).lower() for v in (answer.type, answer.code, answer.message) if v)
    if answer.quota:
        return E.QuotaExceeded(message + " (the balance or quota is used up)", **kw)
    if any(w in words for w in _AUTH_WORDS):
        return E.AuthenticationError(message, **kw)
    if "rate" in words and "limit" in words:
        return E.RateLimitError(message, **kw)
    return E.BadRequestError(message, **kw)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s"


def _reason(status: int) -> str:
    try:
        from http import HTTPStatus

        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"
