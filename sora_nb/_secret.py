"""The API key, kept out of every repr, message and log line."""

from __future__ import annotations

from collections.abc import Iterable

REDACTED = "***"


class Secret:
    """A string that never shows itself: ``repr``, ``str`` and f-strings all give ``***``.

    ``reveal()`` is the one way to read it, used only to build the Authorization header.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        if value is not None and not isinstance(value, str):
            raise TypeError("an API key must be text")
        self._value = value.strip() if value else None

    def reveal(self) -> str | None:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return REDACTED if self._value else "None"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> tuple[type, tuple[None]]:
        # Pickled copies (e.g. in a saved session) keep no key.
        return (Secret, (None,))


def scrub_bytes(data: bytes, secrets: Iterable[Secret | str | None]) -> bytes:
    """``data`` with every secret (as UTF-8) replaced by ``***``."""
    for secret in secrets:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if value and len(value) >= 4:
            raw = value.encode()
            if raw in data:
                data = data.replace(raw, REDACTED.encode())
    return data


def scrub(text: str, secrets: Iterable[Secret | str | None]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for secret in secrets:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if value and len(value) >= 4 and value in text:
            text = text.replace(value, REDACTED)
    return text
