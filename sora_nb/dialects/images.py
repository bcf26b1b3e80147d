"""POST /images/generations (OpenAI's Images API; the st-ai gateway's API docs). Pure.

Sources: https://platform.openai.com/docs/api-reference/images/create and api.sora2.pub.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._exceptions import ProtocolError, ValidationError
from ..models import ImageResult
from ._base import HttpRequest

QUALITIES = ("standard", "hd", "low", "medium", "high", "auto")
FORMATS = ("url", "b64_json")
STYLES = ("vivid", "natural")


def build_generate(
    prompt: str,
    *,
    model: str | None = None,
    n: int = 1,
    size: str | None = None,
    quality: str | None = None,
    response_format: str | None = None,
    style: str | None = None,
    **extra: Any,
) -> HttpRequest:
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValidationError("the prompt is empty: say what the image should show")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10:
        raise ValidationError(f"n must be a whole number from 1 to 10, not {n!r}")
    for name, value, allowed in (
        ("quality", quality, QUALITIES),
        ("response_format", response_format, FORMATS),
        ("style", style, STYLES),
    ):
        if value is not None and value not in allowed:
            raise ValidationError(f"{name} {value!r} is not one of {', '.join(allowed)}")
    body: dict[str, Any] = {"prompt": prompt, "n": n}
    for key, value in (
        ("model", model),
        ("size", size),
        ("quality", quality),
        ("response_format", response_format),
        ("style", style),
    ):
        if value is not None:
            body[key] = value
    body.update(extra)
    return HttpRequest("POST", "images/generations", "images", json=body)


def parse_images(body: Any) -> list[ImageResult]:
    if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
        raise ProtocolError("the images answer has no 'data' array")
    return [
        ImageResult(
            url=item.get("url"),
            b64_json=item.get("b64_json"),
            revised_prompt=item.get("revised_prompt"),
        )
        for item in body["data"]
        if isinstance(item, Mapping)
    ]
