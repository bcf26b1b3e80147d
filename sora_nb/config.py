"""Where settings come from: arguments first, then ``SORA_*`` environment variables. Pure."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from ._exceptions import ConfigError

ENV_BASE_URL = "SORA_BASE_URL"
ENV_API_KEY = "SORA_API_KEY"
ENV_DIALECT = "SORA_DIALECT"
ENV_MODEL = "SORA_MODEL"  # the default video model of the command line (``sora-nb batch``)
DEFAULT_DIALECT = "unified"
AUTO = "auto"  # not a family: "find out which families the relay serves"
DEFAULT_MODEL = "sora-2"
# A batch's jobs in flight at once, and the most paid jobs one batch (or one cell) creates unless
# told otherwise (0: no cap).
DEFAULT_PARALLEL = 4
DEFAULT_MAX_JOBS = 20
_BAD_HOST = re.compile(r"[\s<>\"'`{}|\\^%]")


def normalize_base_url(url: str) -> str:
    """The base URL in the OpenAI convention: ends in ``/v1``; a bare host gets ``/v1`` added.

    >>> normalize_base_url("https://relay.example"), normalize_base_url("http://h:8/v1/")
    ('https://relay.example/v1', 'http://h:8/v1')
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigError("the base URL is empty")
    text = url.strip()
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ConfigError("the base URL is not a valid URL (check the host and port)") from None
    # Messages name the URL without its query or credentials: either may hold a key.
    shown = f"{parts.scheme}://{host or ''}{f':{port}' if port else ''}{parts.path}"
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(f"base URL {shown!r} must start with http:// or https:// and name a host")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"base URL {shown!r} must not carry credentials: give the key as api_key= or in "
            "SORA_API_KEY"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"base URL {shown!r} must not carry a query or fragment")
    if _BAD_HOST.search(host):
        raise ConfigError(f"base URL {shown!r}: {host!r} is not a valid host name")
    path = parts.path.rstrip("/")
    if not path:
        path = "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def resolve_dialect(
    dialect: str | None, env: Mapping[str, str] | None = None, *, default: str = DEFAULT_DIALECT
) -> str:
    """The name of a registered dialect: ``dialect``, else ``$SORA_DIALECT``, else ``default``;
    or ``"auto"``: the client asks the relay which families it serves (``sora_nb.probing``)."""
    env = os.environ if env is None else env
    value = dialect or env.get(ENV_DIALECT) or default
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    from . import dialects  # at first use: %load_ext needs no request family yet

    return dialects.get(value).name


def resolve_base_url(base_url: str | None, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    value = base_url or env.get(ENV_BASE_URL)
    if not value:
        raise ConfigError(
            f"no gateway configured: pass base_url=… or set {ENV_BASE_URL} "
            "(e.g. https://relay.example/v1)"
        )
    return normalize_base_url(value)


def resolve_api_key(api_key: str | None, env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    return api_key if api_key is not None else (env.get(ENV_API_KEY) or None)
