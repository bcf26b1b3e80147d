"""Reading requests: JSON bodies, forms (multipart with files, or URL-encoded), and the values in
them (numbers, WIDTHxHEIGHT sizes)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from ..errors import ApiError, bad

__all__ = ["Upload", "form_or_json", "json_body", "number", "parse_wh", "unified_dims"]

# Starlette caps a multipart text field at 1 MiB; a data-URI `input_reference` sent as a text
# field can be larger, and the emulator never capped it.
MAX_FIELD_BYTES = 64 * 1024 * 1024


@dataclass
class Upload:
    filename: str
    content_type: str
    data: bytes


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise ApiError(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly.)",
            "invalid_request_error",
            None,
        ) from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.", "invalid_request_error")
    return body


async def _multipart(request: Request) -> tuple[dict[str, str], dict[str, Upload]]:
    """Fields and files of a multipart/form-data body (python-multipart, through Starlette)."""
    # A missing boundary is a common client bug: answer it in the emulator's own words.
    if not re.search(r'boundary="?[^";]+', request.headers.get("content-type", "")):
        raise bad("multipart/form-data body without a boundary", code=None)
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    try:
        async with request.form(max_part_size=MAX_FIELD_BYTES) as form:
            for name, value in form.multi_items():  # a repeated name: the last one wins
                if isinstance(value, UploadFile):
                    ctype = value.content_type or "application/octet-stream"
                    files[name] = Upload(value.filename or "", ctype, await value.read())
                else:
                    fields[name] = value
    except HTTPException as exc:  # Starlette's answer to a body it cannot parse
        raise bad(f"Invalid multipart/form-data body: {exc.detail}", code=None) from None
    return fields, files


async def form_or_json(request: Request) -> tuple[dict[str, Any], dict[str, Upload], str]:
    """Fields, files and the body's encoding ("multipart", "form" or "json")."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        fields, files = await _multipart(request)
        return fields, files, "multipart"
    if ctype.startswith("application/x-www-form-urlencoded"):
        # parse_qsl drops blank values, so `seconds=` falls back to the default like a missing one.
        return dict(parse_qsl((await request.body()).decode())), {}, "form"
    return await json_body(request), {}, "json"


def parse_wh(size: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"\s*(\d{2,5})\s*[xX*×]\s*(\d{2,5})\s*", size)
    return (int(m.group(1)), int(m.group(2))) if m else None


def number(value: Any, name: str) -> float:
    """A JSON number or a numeric string, else a 400 naming the parameter."""
    if isinstance(value, bool):
        raise bad(f"Invalid type for '{name}': expected a number.", name, "invalid_type")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        return float(value)
    raise bad(f"Invalid value for '{name}': {value!r} is not a number.", name, "invalid_type")


def unified_dims(size: str, orientation: str) -> tuple[int, int]:
    """Reported width and height of a unified `size` (small = 720p, large = 1080p, or WxH)."""
    wh = parse_wh(size)
    if wh:
        return wh
    long_edge, short_edge = (1920, 1080) if size == "large" else (1280, 720)
    if orientation == "landscape":
        return long_edge, short_edge
    return short_edge, long_edge
