"""What every dialect module shares: the request description and small parsing helpers. Pure."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote


@dataclass(frozen=True)
class ImageFile:
    """A local reference image, already read by the I/O layer."""

    name: str
    data: bytes = field(repr=False)
    mime: str = "image/png"

    def data_url(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


ImageRef = str | ImageFile  # a URL, or a local file's bytes


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request as a dialect describes it; the client sends it.

    ``path`` is relative to the base URL (which ends in ``/v1``). ``kind`` names the request for
    retry rules, counters and logs: create, poll, list, delete, remix, content, chat, images.
    """

    method: str
    path: str
    kind: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    data: Mapping[str, str] | None = None
    files: Mapping[str, tuple[str, bytes, str]] | None = field(default=None, repr=False)

    @property
    def creates(self) -> bool:
        """Whether sending this twice could start (and bill) two jobs."""
        return self.kind in ("create", "remix", "chat", "images")


def seg(value: str) -> str:
    """A path segment: ids are opaque and may hold ':' or '/', so encode everything.

    '.' and '..' are encoded too: left as they are, URL normalisation would turn
    ``videos/..`` into a request for another endpoint.
    """
    text = quote(str(value), safe="")
    return text.replace(".", "%2E") if set(text) == {"."} else text


def dig(data: Any, *path: str) -> Any:
    """``data[path[0]][path[1]]…`` or None when any step is missing."""
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def first(*values: Any) -> Any:
    """The first value that is not None or empty text."""
    for value in values:
        if value is not None and value != "":
            return value
    return None


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def error_text(value: Any) -> str | None:
    """A failure reason from a string, an error object, or a list of them."""
    if value is None or value == "" or value == {}:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        message = first(
            value.get("message"),
            value.get("msg"),
            value.get("reason"),
            value.get("detail"),
            value.get("error"),
        )
        code = value.get("code")
        if isinstance(message, (Mapping, list)):
            message = error_text(message)
        if message and code and str(code) not in str(message):
            return f"{message} ({code})"
        return str(message) if message else (str(code) if code else None)
    if isinstance(value, list):
        parts = [t for t in (error_text(v) for v in value) if t]
        return "; ".join(parts) or None
    return str(value)


def number_text(value: float) -> str:
    """10.0 -> '10', 7.5 -> '7.5' (gateways compare durations as text)."""
    return str(int(value)) if float(value).is_integer() else str(value)


_VIDEO_PATH = re.compile(r"\.(?:mp4|webm|mov|m4v|mkv)(?:$|[?#])", re.IGNORECASE)


def link(value: Any) -> str | None:
    """``value`` if it is an http(s) link (any case of the scheme), else None: relays put
    empty strings and failure texts where a link would be."""
    if isinstance(value, str) and value[:8].lower().startswith(("http://", "https://")):
        return value.strip()
    return None


def find_video_link(data: Any, depth: int = 6) -> str | None:
    """The first link to a video file anywhere in nested answers (a relay that keeps its
    upstream's own JSON: kling ``data.task_result.videos[0].url``, vidu ``creations[0].url``,
    DashScope ``output.video_url``), searched breadth-first, a bounded depth down."""
    level: list[Any] = [data]
    for _ in range(depth):
        following: list[Any] = []
        for item in level:
            values = item.values() if isinstance(item, Mapping) else item
            if not isinstance(item, Mapping | list | tuple):
                continue
            for value in values:
                url = link(value)
                if url and _VIDEO_PATH.search(url):
                    return url
                if isinstance(value, Mapping | list | tuple):
                    following.append(value)
        if not following:
            return None
        level = following
    return None
