"""A translated transport error carries no key anywhere in its chain: an httpx error can quote
the request's Authorization header (an illegal header line), and Python chains the original
to whatever is raised while handling it."""

from __future__ import annotations

import pickle
import ssl
import traceback
from collections.abc import Iterator

import httpcore
import httpx
import pytest

from sora_nb import _errors
from sora_nb import _exceptions as E
from sora_nb._secret import Secret

KEY = "sk-SECRET-5b0f9e2c7d41-canary"
SECRETS = [Secret(KEY)]
ESCAPED = KEY.replace("-", "\\u002d")  # as a relay may echo it


def illegal_header() -> httpx.LocalProtocolError:
    """What httpx raises for a key with a newline in it: its httpcore error, re-raised."""
    try:
        try:
            raise httpcore.LocalProtocolError(f"Illegal header value b'Bearer {KEY}\\n'")
        except httpcore.LocalProtocolError as inner:
            request = httpx.Request("POST", "https://relay.example/v1/videos")
            request.headers["Authorization"] = f"Bearer {KEY}"
            raise httpx.LocalProtocolError(str(inner), request=request) from inner
    except httpx.LocalProtocolError as exc:
        return exc


def chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [item.__cause__, item.__context__]


def assert_clean(error: BaseException) -> None:
    text = "".join(traceback.format_exception(error))
    assert KEY not in text, text
    assert "5b0f9e2c7d41" not in text, text
    for item in chain(error):
        assert "5b0f9e2c7d41" not in str(item), repr(item)
        assert "5b0f9e2c7d41" not in repr(item.args), repr(item)


def raised(exc: httpx.HTTPError, raise_it) -> E.SoraError:
    """Translate ``exc`` while handling it, as the client does, and return what was raised."""
    try:
        try:
            raise exc
        except httpx.HTTPError as handled:
            raise_it(handled)
    except E.SoraError as error:
        return error
    raise AssertionError("nothing raised")


def as_documented(exc: httpx.HTTPError) -> None:
    error = _errors.from_transport(exc, what="creating a video", secrets=SECRETS)
    raise error


def test_illegal_header_error_is_translated_without_the_key_anywhere():
    error = raised(illegal_header(), as_documented)
    assert isinstance(error, E.TransportError)
    assert "Bearer ***" in str(error)
    assert_clean(error)
    # The cause shown is a copy of the httpx error, of its type, without the request.
    cause = error.__cause__
    assert isinstance(cause, httpx.LocalProtocolError)
    assert "Bearer ***" in str(cause)
    assert isinstance(cause.__cause__, httpcore.LocalProtocolError)
    assert cause.__traceback__ is None
    with pytest.raises(RuntimeError):
        cause.request  # noqa: B018 - no request, so no Authorization header, on the copy
    shown = "".join(traceback.format_exception(error))
    assert "httpx.LocalProtocolError: Illegal header value b'Bearer ***" in shown


def test_the_key_echoed_escaped_is_scrubbed_from_the_chain_too():
    exc = httpx.ConnectError(f"proxy said: bad token {ESCAPED}")
    exc.__context__ = ValueError(f'{{"token": "{ESCAPED}"}}')
    error = raised(exc, as_documented)
    assert isinstance(error, E.ConnectError)
    text = "".join(traceback.format_exception(error))
    assert ESCAPED not in text and "5b0f9e2c7d41" not in text


@pytest.mark.parametrize(
    "raise_it",
    [
        pytest.param(as_documented, id="raise_error"),
        pytest.param(
            lambda exc: _raise_from(_errors.from_transport(exc, what="x", secrets=SECRETS), exc),
            id="raise_error_from_exc",
        ),
        pytest.param(
            lambda exc: _raise_from(_errors.from_transport(exc, what="x", secrets=SECRETS), None),
            id="raise_error_from_none",
        ),
        pytest.param(
            lambda exc: _raise_wrapped(_errors.from_transport(exc, what="x", secrets=SECRETS)),
            id="wrapped",
        ),
    ],
)
def test_no_way_of_raising_shows_the_key(raise_it):
    # The documented way keeps a scrubbed cause; the others must not leak either, as the
    # original itself is scrubbed in place.
    assert_clean(raised(illegal_header(), raise_it))


def _raise_from(error: BaseException, cause: BaseException | None) -> None:
    raise error from cause


def _raise_wrapped(error: E.SoraError) -> None:
    raise E.StreamInterrupted(f"the stream ended early: {error}", text="so far") from error


def test_scrub_chain_keeps_types_and_messages_but_not_tracebacks_or_attributes():
    exc = illegal_header()
    copy = _errors.scrub_chain(exc, SECRETS)
    assert type(copy) is httpx.LocalProtocolError
    assert copy is not exc and copy.__traceback__ is None
    assert str(copy) == "Illegal header value b'Bearer ***\\n'"
    assert type(copy.__cause__) is httpcore.LocalProtocolError
    assert copy.__cause__.__traceback__ is None
    assert _errors.scrub_chain(None, SECRETS) is None


def test_scrub_chain_handles_odd_exceptions():
    cert = ssl.SSLCertVerificationError(1, f"certificate verify failed for {KEY}")
    odd = KeyError({"Authorization": f"Bearer {KEY}"})  # an object argument: its picture kept
    raw = UnicodeDecodeError("utf-8", KEY.encode() + b"\xff", len(KEY), len(KEY) + 1, "bad")
    top = httpx.ConnectError(f"[SSL] {KEY}")
    top.__cause__ = cert
    cert.__context__ = odd
    odd.__context__ = raw
    raw.__context__ = top  # a cycle
    copy = _errors.scrub_chain(top, SECRETS)
    assert_clean(copy)
    assert isinstance(copy.__cause__, ssl.SSLCertVerificationError)
    assert "certificate verify failed for ***" in str(copy.__cause__)
    assert isinstance(copy.__cause__.__context__, KeyError)
    assert "Bearer ***" in str(copy.__cause__.__context__)


def test_a_type_that_cannot_be_rebuilt_becomes_a_named_stand_in():
    class Stubborn(Exception):
        def __init__(self, message: str, *, code: int) -> None:
            super().__init__(message)
            self.code = code

        def __str__(self) -> str:
            return f"{self.args[0]} (code {self.code})"  # needs the attribute __new__ skips

    copy = _errors.scrub_chain(Stubborn(f"token {KEY}", code=7), SECRETS)
    assert isinstance(copy, _errors.ScrubbedError)
    assert "Stubborn: token *** (code 7)" in str(copy)


def test_translated_error_pickles_without_the_key():
    error = raised(illegal_header(), as_documented)
    data = pickle.dumps(error)
    assert KEY.encode() not in data
    assert str(pickle.loads(data)) == str(error)
