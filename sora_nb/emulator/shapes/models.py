"""Answer of GET /v1/models: OpenAI's model list, which relays serve for discovery."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["model_list"]

LISTED_AT = 1759708800  # a fixed `created`, so the answer is the same on every run


def model_list(names: Iterable[str]) -> dict[str, Any]:
    """`{"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}`, each
    name once, in first-seen order."""
    data = [
        {"id": name, "object": "model", "created": LISTED_AT, "owned_by": "sora-emulator"}
        for name in dict.fromkeys(names)
    ]
    return {"object": "list", "data": data}
