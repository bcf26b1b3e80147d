"""config: base URL normalisation and settings from arguments or an explicit environment."""

from __future__ import annotations

import pytest

from sora_nb._exceptions import ConfigError
from sora_nb.config import (
    DEFAULT_DIALECT,
    normalize_base_url,
    resolve_api_key,
    resolve_base_url,
    resolve_dialect,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://relay.example", "https://relay.example/v1"),
        ("https://relay.example/", "https://relay.example/v1"),
        ("https://relay.example/v1", "https://relay.example/v1"),
        ("https://relay.example/v1/", "https://relay.example/v1"),
        ("http://h:8/v1/", "http://h:8/v1"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123/v1"),
        ("  https://api.6ai.chat/v1/  ", "https://api.6ai.chat/v1"),
        ("https://relay.example/api/openai/v1", "https://relay.example/api/openai/v1"),
        ("HTTPS://Relay.Example/v1", "https://Relay.Example/v1"),
    ],
)
def test_normalize_base_url(url, expected):
    assert normalize_base_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://relay.example/v1?key=abc",
        "https://relay.example/v1#frag",
        "ftp://relay.example/v1",
        "relay.example/v1",
        "relay.example",
        "file:///etc/passwd",
        "https://",
        "",
        "   ",
        None,
        42,
    ],
)
def test_normalize_base_url_rejects(url):
    with pytest.raises(ConfigError) as info:
        normalize_base_url(url)
    assert "\n" not in str(info.value)


def test_query_rejection_names_the_problem():
    with pytest.raises(ConfigError, match="query"):
        normalize_base_url("https://relay.example/v1?x=1")
    with pytest.raises(ConfigError, match="http"):
        normalize_base_url("ws://relay.example")


def test_config_error_is_a_value_error():
    with pytest.raises(ValueError):
        normalize_base_url("nope")


def test_resolve_dialect():
    assert resolve_dialect(None, env={}) == DEFAULT_DIALECT == "unified"
    assert resolve_dialect(None, env={"SORA_DIALECT": " OpenAI "}) == "openai"
    assert resolve_dialect("chat", env={"SORA_DIALECT": "openai"}) == "chat"
    assert resolve_dialect("", env={"SORA_DIALECT": "chat"}) == "chat"


def test_resolve_dialect_unknown_names_choices():
    with pytest.raises(ConfigError) as info:
        resolve_dialect("grpc", env={})
    message = str(info.value)
    assert "'grpc'" in message
    for name in ("unified", "openai", "chat"):
        assert name in message
    with pytest.raises(ConfigError):
        resolve_dialect(None, env={"SORA_DIALECT": "images"})


def test_resolve_base_url():
    assert resolve_base_url("https://a.example", env={}) == "https://a.example/v1"
    env = {"SORA_BASE_URL": "https://env.example/"}
    assert resolve_base_url(None, env=env) == "https://env.example/v1"
    assert resolve_base_url("https://arg.example/v1", env=env) == "https://arg.example/v1"


def test_resolve_base_url_missing():
    with pytest.raises(ConfigError) as info:
        resolve_base_url(None, env={})
    assert "SORA_BASE_URL" in str(info.value)
    with pytest.raises(ConfigError):
        resolve_base_url(None, env={"SORA_BASE_URL": ""})


def test_resolve_base_url_env_is_validated():
    with pytest.raises(ConfigError):
        resolve_base_url(None, env={"SORA_BASE_URL": "relay.example"})


def test_resolve_api_key():
    assert resolve_api_key(None, env={}) is None
    assert resolve_api_key(None, env={"SORA_API_KEY": ""}) is None
    assert resolve_api_key(None, env={"SORA_API_KEY": "sk-env"}) == "sk-env"
    assert resolve_api_key("sk-arg", env={"SORA_API_KEY": "sk-env"}) == "sk-arg"
    # An explicit empty key means "no key", not "use the environment's".
    assert resolve_api_key("", env={"SORA_API_KEY": "sk-env"}) == ""


def test_resolve_uses_os_environ_when_env_is_none(monkeypatch):
    monkeypatch.setenv("SORA_DIALECT", "openai")
    monkeypatch.setenv("SORA_BASE_URL", "https://os.example")
    monkeypatch.setenv("SORA_API_KEY", "sk-os")
    assert resolve_dialect(None) == "openai"
    assert resolve_base_url(None) == "https://os.example/v1"
    assert resolve_api_key(None) == "sk-os"
    # An explicit mapping is used instead of os.environ, even when empty.
    assert resolve_api_key(None, env={}) is None
