"""_secret: the API key never shows itself, and scrub removes it from text."""

from __future__ import annotations

import copy
import logging
import pickle

import pytest

from sora_nb._secret import REDACTED, Secret, scrub

KEY = "sk-live-5b0f9e2c7d41"


def test_reveal_returns_value():
    assert Secret(KEY).reveal() == KEY
    assert Secret(f"  {KEY}\n").reveal() == KEY


def test_repr_str_format_hide_value():
    secret = Secret(KEY)
    shown = [
        repr(secret),
        str(secret),
        format(secret),
        format(secret, ">40"),
        f"{secret}",
        f"{secret!r}",
        f"{secret!s}",
        f"{secret:^30}",
        "%s" % secret,  # noqa: UP031
        "%r" % (secret,),  # noqa: UP031
        "{}".format(secret),  # noqa: UP032
        repr([secret]),
        repr({"api_key": secret}),
    ]
    for text in shown:
        assert KEY not in text, text
        assert REDACTED in text, text


def test_logging_hides_value(caplog):
    with caplog.at_level(logging.INFO):
        logging.getLogger("test_secret").info("key is %s (%r)", Secret(KEY), Secret(KEY))
    assert KEY not in caplog.text
    assert REDACTED in caplog.text


def test_empty_and_none():
    assert repr(Secret(None)) == "None"
    assert not Secret(None)
    assert not Secret("")
    assert not Secret("   ")
    assert not Secret("   ").reveal()
    assert Secret(KEY)


def test_non_text_rejected():
    with pytest.raises(TypeError):
        Secret(12345)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Secret(b"sk-bytes")  # type: ignore[arg-type]


def test_no_instance_dict():
    secret = Secret(KEY)
    assert not hasattr(secret, "__dict__")
    with pytest.raises(AttributeError):
        secret.other = 1  # type: ignore[attr-defined]


def test_pickle_drops_value():
    data = pickle.dumps(Secret(KEY))
    assert KEY.encode() not in data
    restored = pickle.loads(data)
    assert isinstance(restored, Secret)
    assert restored.reveal() is None


def test_pickle_inside_container_drops_value():
    data = pickle.dumps({"key": Secret(KEY), "n": 1})
    assert KEY.encode() not in data
    assert pickle.loads(data)["n"] == 1


def test_deepcopy_does_not_leak_through_repr():
    assert KEY not in repr(copy.deepcopy(Secret(KEY)))


def test_scrub_replaces_every_occurrence():
    text = f"invalid key {KEY}; you sent {KEY} (Bearer {KEY})"
    out = scrub(text, [Secret(KEY)])
    assert KEY not in out
    assert out.count(REDACTED) == 3
    assert out.startswith("invalid key ***; you sent ***")


def test_scrub_plain_strings_and_several_secrets():
    other = "another-secret-token"
    out = scrub(f"{KEY} and {other}", [KEY, None, Secret(None), Secret(other)])
    assert out == "*** and ***"


def test_scrub_ignores_short_and_absent_secrets():
    assert scrub("a b c abc", ["a", "ab", "abc", None, ""]) == "a b c abc"
    assert scrub("nothing here", [Secret(KEY)]) == "nothing here"
    assert scrub("", [KEY]) == ""
    assert scrub("x", []) == "x"
