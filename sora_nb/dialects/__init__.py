"""Pure protocol code: build each dialect's requests and parse its answers. No I/O here."""

from __future__ import annotations

from . import chat, images, openai, unified
from ._base import HttpRequest, ImageFile, ImageRef

DIALECTS = ("unified", "openai", "chat")

__all__ = [
    "DIALECTS",
    "HttpRequest",
    "ImageFile",
    "ImageRef",
    "chat",
    "images",
    "openai",
    "unified",
]
