"""Error answers in every shape, and their translation into sora_nb's error tree."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from sora_nb import _errors
from sora_nb import _exceptions as E
from sora_nb._secret import Secret
from sora_nb.dialects._base import error_text
from sora_nb.dialects.errors import parse_error

KEY = "sk-test-canary-5b0f9e2c7d41"


def openai_error(message, type_=None, code=None):
    return json.dumps({"error": {"message": message, "type": type_, "code": code}})


# --- parse_error ----------------------------------------------------------------------------


def test_parse_openai_shape():
    answer = parse_error(
        400, openai_error("Invalid size '999x1'", "invalid_request_error", "invalid_size")
    )
    assert answer.message == "Invalid size '999x1' (invalid_size)"
    assert answer.type == "invalid_request_error"
    assert answer.code == "invalid_size"
    assert answer.body["error"]["type"] == "invalid_request_error"
    assert not answer.quota


def test_parse_openai_shape_code_already_in_message_and_int_code():
    answer = parse_error(400, openai_error("invalid_size: bad", None, "invalid_size"))
    assert answer.message == "invalid_size: bad"
    answer = parse_error(429, json.dumps({"error": {"message": "slow down", "code": 429}}))
    assert answer.code == "429"


def test_parse_message_shape():
    answer = parse_error(500, json.dumps({"message": "internal\nerror", "code": 50001}))
    assert answer.message == "internal error"
    assert answer.code is None  # numeric top-level codes are status echoes, not codes
    answer = parse_error(400, json.dumps({"msg": "bad", "code": "E1", "type": "t"}))
    assert (answer.message, answer.code, answer.type) == ("bad", "E1", "t")


def test_parse_error_text_shape():
    answer = parse_error(502, json.dumps({"error": "upstream unavailable"}))
    assert answer.message == "upstream unavailable"


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ("Not authenticated", "Not authenticated"),
        ({"message": "nope"}, "nope"),
        (
            [{"loc": ["body", "prompt"], "msg": "field required", "type": "value_error"}],
            "field required",
        ),
    ],
)
def test_parse_detail_shape(detail, expected):
    assert parse_error(422, json.dumps({"detail": detail})).message == expected


def test_parse_html_page():
    page = (
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
        "<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>"
        "\r\n</body>\r\n</html>\r\n"
    )
    answer = parse_error(502, page, "Bad Gateway")
    assert "<" not in answer.message and "\n" not in answer.message
    assert "502 Bad Gateway" in answer.message
    assert "nginx" in answer.message
    assert answer.body == page


def test_parse_long_plain_text_is_cut():
    assert len(parse_error(500, "x" * 5000).message) <= 300


def test_parse_empty_body():
    assert parse_error(503, "", "Service Unavailable").message == "Service Unavailable"
    assert parse_error(599, "").message == "HTTP 599"
    assert parse_error(503, "   ", "Service Unavailable").message == "Service Unavailable"
    assert parse_error(500, json.dumps({}), "Internal Server Error").message == (
        "Internal Server Error"
    )


@pytest.mark.parametrize(
    "text",
    [
        openai_error("You exceeded your current quota", "insufficient_quota", "insufficient_quota"),
        openai_error("rate", "insufficient_quota"),
        json.dumps({"error": {"message": "用户余额不足", "type": "new_api_error"}}),
        json.dumps({"message": "该令牌额度已用尽"}),
        json.dumps({"error": "Insufficient balance"}),
    ],
)
def test_quota_detected(text):
    assert parse_error(429, text).quota


@pytest.mark.parametrize(
    "text",
    [
        openai_error("Rate limit reached, retry in 20s", "rate_limit_exceeded", "rate_limit"),
        json.dumps({"error": "too many requests"}),
        "",
    ],
)
def test_plain_rate_limit_not_quota(text):
    assert not parse_error(429, text).quota


def test_error_text_helper():
    assert error_text(None) is None and error_text("") is None and error_text({}) is None
    assert error_text("boom") == "boom"
    assert error_text({"message": "m", "code": "c"}) == "m (c)"
    assert error_text({"code": "only_code"}) == "only_code"
    assert error_text({"error": {"message": "nested"}}) == "nested"
    assert error_text([{"msg": "a"}, "b", None]) == "a; b"
    assert error_text(42) == "42"


# --- from_reply -----------------------------------------------------------------------------


def reply_error(status, text="", headers=None, what="creating the video job", secrets=()):
    return _errors.from_reply(
        status, httpx.Headers(headers or {}), text, what=what, secrets=secrets
    )


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, E.BadRequestError),
        (401, E.AuthenticationError),
        (403, E.AuthenticationError),
        (404, E.NotFoundError),
        (409, E.BadRequestError),
        (422, E.BadRequestError),
        (429, E.RateLimitError),
        (500, E.ServerError),
        (502, E.ServerError),
        (503, E.ServerError),
        (504, E.ServerError),
    ],
)
def test_from_reply_classes_and_message(status, cls):
    exc = reply_error(status, openai_error(f"gateway says {status}", "some_type", "some_code"))
    assert type(exc) is cls
    assert isinstance(exc, E.GatewayError) and isinstance(exc, E.SoraError)
    message = str(exc)
    assert "\n" not in message
    assert str(status) in message
    assert f"gateway says {status}" in message
    assert "creating the video job" in message
    assert exc.status_code == status
    assert exc.error_type == "some_type"
    assert exc.code == "some_code"


def test_from_reply_unusual_status_is_plain_gateway_error():
    exc = reply_error(418, json.dumps({"message": "I'm a teapot"}))
    assert type(exc) is E.GatewayError
    assert str(exc).startswith("418 ")
    assert "I'm a teapot" in str(exc)


def test_from_reply_429_retry_after_seconds():
    exc = reply_error(429, openai_error("slow down"), {"Retry-After": "7"})
    assert type(exc) is E.RateLimitError
    assert exc.retry_after == 7.0
    assert reply_error(429, "", {"retry-after": "1.5"}).retry_after == 1.5
    assert reply_error(429, "").retry_after is None
    assert reply_error(429, "", {"Retry-After": "soon"}).retry_after is None
    assert reply_error(429, "", {"Retry-After": "-3"}).retry_after == 0.0


def test_from_reply_429_retry_after_http_date():
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    exc = reply_error(429, "", {"Retry-After": format_datetime(when, usegmt=True)})
    assert 25.0 <= exc.retry_after <= 31.0
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    assert (
        reply_error(429, "", {"Retry-After": format_datetime(past, usegmt=True)}).retry_after == 0.0
    )


def test_from_reply_429_quota():
    exc = reply_error(
        429,
        openai_error("You exceeded your current quota", "insufficient_quota", "insufficient_quota"),
        {"Retry-After": "5"},
    )
    assert type(exc) is E.QuotaExceeded
    assert isinstance(exc, E.RateLimitError)
    assert "quota" in str(exc)
    exc = reply_error(429, json.dumps({"error": {"message": "余额不足，请充值"}}))
    assert type(exc) is E.QuotaExceeded
    assert "余额不足" in str(exc)


def test_an_empty_balance_is_quota_exceeded_as_403_too():
    # new-api answers an empty balance with HTTP 403 (service/billing_session.go:
    # ErrorCodeInsufficientUserQuota, http.StatusForbidden), in both of its error shapes: the
    # OpenAI one on relay routes (controller/relay.go) and {code, message, data} on task routes
    # (service.TaskErrorFromAPIError). It is not a bad key.
    relay_route = openai_error("用户额度不足, 剩余额度: ＄0.000000 (request id: 2025)", "")
    relay = json.loads(relay_route)
    relay["error"]["code"] = "insufficient_user_quota"
    relay["error"]["type"] = "new_api_error"
    exc = reply_error(403, json.dumps(relay))
    assert type(exc) is E.QuotaExceeded and "用户额度不足" in str(exc)
    task_route = {
        "code": "insufficient_user_quota",
        "message": "用户额度不足, 剩余额度: ¥-1.56",
        "data": None,
    }
    exc = reply_error(403, json.dumps(task_route, ensure_ascii=False))
    assert type(exc) is E.QuotaExceeded and "¥-1.56" in str(exc)


def test_quota_words_on_other_statuses_do_not_change_class():
    assert (
        type(reply_error(403, openai_error("forbidden", "access_denied"))) is E.AuthenticationError
    )
    assert type(reply_error(500, openai_error("quota service down", "x"))) is E.ServerError


def test_from_reply_html_and_empty_bodies():
    exc = reply_error(502, "<html><body><h1>502 Bad Gateway</h1></body></html>")
    assert str(exc) == "502 from the gateway while creating the video job: 502 Bad Gateway"
    exc = reply_error(503, "")
    assert str(exc) == "503 from the gateway while creating the video job: Service Unavailable"


def test_from_reply_scrubs_echoed_key():
    body = json.dumps(
        {
            "error": {
                "message": f"Incorrect API key provided: {KEY}",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
        }
    )
    exc = reply_error(401, body, secrets=[Secret(KEY)])
    assert KEY not in str(exc)
    assert KEY not in repr(exc.body)
    assert "***" in str(exc)
    assert type(exc) is E.AuthenticationError


def test_from_reply_scrubs_key_in_plain_text_body():
    exc = reply_error(500, f"bad key {KEY} bad key {KEY}", secrets=[KEY])
    assert KEY not in str(exc)
    assert KEY not in str(exc.body)


# --- from_transport -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "cls"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), E.ConnectError),
        (httpx.ConnectTimeout("timed out"), E.ConnectError),
        (httpx.ReadTimeout("timed out"), E.TimeoutError),
        (httpx.WriteTimeout("timed out"), E.TimeoutError),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            E.TransportError,
        ),
        (httpx.ReadError("[Errno 104] Connection reset by peer"), E.TransportError),
        (httpx.WriteError("broken pipe"), E.TransportError),
        (
            httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'."),
            E.ConfigError,
        ),
    ],
)
def test_from_transport_classes(error, cls):
    exc = _errors.from_transport(error, what="asking for the job's status")
    assert type(exc) is cls
    assert "asking for the job's status" in str(exc)
    assert str(error) in str(exc)
    assert "\n" not in str(exc)


def test_from_transport_pool_timeout_never_reached_the_gateway():
    # Waiting for a free pooled connection timed out: nothing was sent, so a create may be retried.
    exc = _errors.from_transport(httpx.PoolTimeout("pool exhausted"), what="creating the video job")
    assert isinstance(exc, E.ConnectError)


def test_from_transport_empty_message_uses_type_name():
    exc = _errors.from_transport(httpx.ReadTimeout(""), what="x")
    assert "ReadTimeout" in str(exc)


def test_from_transport_scrubs():
    exc = _errors.from_transport(
        httpx.ConnectError(f"failed for https://h/?key={KEY}"), what="x", secrets=[Secret(KEY)]
    )
    assert KEY not in str(exc)


# --- not_json / load_json -------------------------------------------------------------------


def test_load_json_ok_and_bad():
    assert _errors.load_json(b'{"a": 1}', what="x") == {"a": 1}
    with pytest.raises(E.ProtocolError) as info:
        _errors.load_json(
            f"<html>\nkey {KEY}\n</html>".encode(), what="reading the video job", secrets=[KEY]
        )
    message = str(info.value)
    assert "reading the video job" in message
    assert KEY not in message
    assert "\n" not in message


def test_not_json_snippet_is_short():
    exc = _errors.not_json("y" * 1000, what="x")
    assert len(str(exc)) < 250


def test_a_long_retry_after_is_named_in_the_message():
    error = _errors.from_reply(
        429, {"retry-after": "86400"}, '{"error": {"message": "slow down"}}', what="creating"
    )
    assert isinstance(error, E.RateLimitError) and error.retry_after == 86400.0
    assert "asks to wait 24 h 0 min before trying again" in str(error)
