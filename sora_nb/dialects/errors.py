"""Error answers, in whatever shape a gateway sends them. Pure."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._base import error_text, first

_QUOTA = re.compile(r"insufficient[_ ]quota|quota|balance|余额|额度|credit", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class ErrorAnswer:
    message: str
    type: str | None = None
    code: str | None = None
    body: Any = None

    @property
    def quota(self) -> bool:
        """Whether the answer says the balance is empty (a 429 no retry fixes)."""
        return any(_QUOTA.search(str(v)) for v in (self.type, self.code, self.message) if v)


def parse_error(status: int, text: str, reason: str = "") -> ErrorAnswer:
    """The gateway's own message from an error body: OpenAI's shape, or others, or plain text."""
    try:
        body: Any = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        err = body.get("error")
        if isinstance(err, Mapping):
            message = error_text(err)
            kind, code = err.get("type"), err.get("code")
        else:
            message = first(
                error_text(err),
                body.get("message"),
                body.get("msg"),
                error_text(body.get("detail")),
                body.get("error_description"),
            )
            kind = body.get("type") or body.get("error_type")
            code = body.get("code") if not isinstance(body.get("code"), int) else None
        return ErrorAnswer(
            message=_one_line(str(message)) if message else (reason or f"HTTP {status}"),
            type=str(kind) if kind else None,
            code=str(code) if code is not None else None,
            body=body,
        )
    plain = _one_line(_TAGS.sub(" ", text or ""))[:300]  # an HTML error page, or plain text
    return ErrorAnswer(message=plain or reason or f"HTTP {status}", body=text or None)


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", text).strip()
