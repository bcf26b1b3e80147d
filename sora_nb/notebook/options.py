"""Reading a magic's options: shell quoting, and the JSON-or-names values of ``--tools``."""

from __future__ import annotations

import json
import shlex
from typing import Any

from IPython.core.error import UsageError

__all__ = ["json_or_names", "parse", "tool_choice"]


def json_or_names(value: str | None, what: str) -> Any:
    if value is None:
        return None
    text = value.strip()
    if text.startswith(("[", "{")):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise UsageError(f"--{what} is not valid JSON: {exc}") from None
    return [n.strip() for n in text.split(",") if n.strip()]


def tool_choice(value: str | None) -> Any:
    if value is None:
        return None
    text = value.strip()
    if text.startswith("{"):
        return json_or_names(text, "tool-choice")
    if text in ("auto", "none", "required"):
        return text
    return {"type": "function", "function": {"name": text}}


def parse(magic: Any, line: str) -> Any:
    """A magic's options, with shell quoting honoured (``--system "be brief"``)."""
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"cannot read the options: {exc}") from None
    return magic.parser.parse_args(argv)
