"""Answers of POST /v1/images/generations.

Source: the st-ai gateway's API docs, api.sora2.pub
(`{"created", "data": [{"url" | "b64_json", "revised_prompt"}]}`), which follow OpenAI's Images
API (https://platform.openai.com/docs/api-reference/images/create).
"""

from __future__ import annotations

import base64
from typing import Any

__all__ = ["answer", "b64_item", "revised_prompt", "url_item"]


def revised_prompt(prompt: str, index: int, n: int, size: str) -> str:
    return f"{prompt} (emulator rendition {index + 1} of {n}, {size})"


def url_item(url: str, revised: str) -> dict[str, str]:
    return {"url": url, "revised_prompt": revised}


def b64_item(png: bytes, revised: str) -> dict[str, str]:
    return {"b64_json": base64.b64encode(png).decode(), "revised_prompt": revised}


def answer(created: int, data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"created": created, "data": data}
