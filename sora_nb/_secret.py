"""The API key, kept out of every repr, message and log line.

:func:`scrub` and :func:`scrub_bytes` remove a key from what a gateway sends back, in every form
a relay has been seen to echo it: literally, JSON-escaped (``\\/`` for ``/``, ``\\u0073`` for
``s``, any mix of escaped and literal characters, also escaped twice over) and percent-encoded
(``%2F``, ``%252F``). :class:`StreamScrubber` does the same for an answer that arrives in
pieces, holding back just enough of each piece's tail to catch a key split between two.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, AnyStr

REDACTED = "***"
_MIN_LENGTH = 4  # shorter "keys" would scrub ordinary words
_MAX_ESCAPE_DEPTH = 4  # JSON inside JSON…: up to four backslashes before an escape


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


def _values(secrets: Iterable[Secret | str | None]) -> tuple[str, ...]:
    """The keys worth scrubbing, longest first (so a key containing another goes whole)."""
    found = set()
    for secret in secrets:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if value and len(value) >= _MIN_LENGTH:
            found.add(value)
    return tuple(sorted(found, key=lambda v: (-len(v), v)))


# A form is one way to write one character of a key: a sequence of atoms, each a pattern for
# exactly one character (or byte). Fixed lengths make both the stream's hold-back bound and its
# "could this tail still become a key?" test exact.
_Form = tuple[str, ...]


def _hex(number: int, digits: int) -> _Form:
    """``number`` in hex, either case per digit: 0x2f → ``2``, ``[fF]``."""
    return tuple(f"[{c}{c.upper()}]" if c.isalpha() else c for c in f"{number:0{digits}x}")


def _forms(char: str, binary: bool) -> list[_Form]:
    """Every way a relay has been seen to write ``char``: literal, JSON-escaped (``\\u0073``,
    ``\\/``, with up to four backslashes), percent-encoded UTF-8 (``%2F``, ``%252F``)."""
    encoded = char.encode()
    if binary:
        forms: list[_Form] = [tuple(re.escape(bytes([b])).decode("latin-1") for b in encoded)]
    else:
        forms = [(re.escape(char),)]
    point = ord(char)
    if point < 0x10000:
        units = [point]
    else:  # JSON writes these as a surrogate pair
        point -= 0x10000
        units = [0xD800 + (point >> 10), 0xDC00 + (point & 0x3FF)]
    for depth in range(1, _MAX_ESCAPE_DEPTH + 1):
        slashes = (r"\\",) * depth
        forms.append(tuple(a for u in units for a in (*slashes, "u", *_hex(u, 4))))
        if char in '/"\\':
            forms.append((*slashes, re.escape(char)))
    for prefix in (("%",), ("%", "2", "5")):
        forms.append(tuple(a for b in encoded for a in (*prefix, *_hex(b, 2))))
    if char == " ":
        forms.append((r"\+",))
    return forms


class _Key:
    """One key's patterns: the whole key, and the test for a tail that may still become it."""

    def __init__(self, value: str, binary: bool) -> None:
        self.chars = [_forms(c, binary) for c in value]
        self.source = "".join(
            "(?:" + "|".join("".join(form) for form in forms) + ")" for forms in self.chars
        )
        self.longest = sum(max(len(f) for f in forms) for forms in self.chars)

        def _compile(source: str) -> re.Pattern[Any]:
            return re.compile(source.encode("latin-1") if binary else source)

        # Per character: which form (if any) is next, and whether the text ends inside one.
        self._widths = [[len(form) for form in forms] for forms in self.chars]
        self._next = [
            _compile("|".join(f"(?:{''.join(form)})" for form in forms)) for forms in self.chars
        ]
        self._ends_inside = [
            _compile("(?:" + "|".join(_proper_prefixes(form) for form in forms) + r")\Z")
            for forms in self.chars
        ]
        # A cheap first test, run by the pattern engine over the whole tail: the key's first two
        # characters in some form, or the text ending inside them.
        full = ["(?:" + "|".join("".join(f) for f in forms) + ")" for forms in self.chars[:2]]
        inside = [
            "(?:" + "|".join(_proper_prefixes(f) for f in forms) + r")\Z"
            for forms in self.chars[:2]
        ]
        self.opening = rf"(?:{full[0]}(?:{full[1]}|{inside[1]}|\Z)|{inside[0]})"
        # A literal "%" or "\\" begins its own escaped forms too: there, try each form.
        self._each = [
            [_compile("".join(form)) for form in forms] if char in "%\\" else None
            for char, forms in zip(value, self.chars, strict=True)
        ]

    def may_start(self, data: Any, pos: int) -> bool:
        """Whether ``data[pos:]`` is the key, or the start of it, in some mix of its forms."""
        end = len(data)
        todo = [(0, pos)]
        while todo:
            index, at = todo.pop()
            if at == end:
                return True
            if index == len(self.chars):
                continue  # the whole key, then more text: a match, not a pending start
            if self._ends_inside[index].match(data, at):
                return True
            each = self._each[index]
            if each is None:
                found = self._next[index].match(data, at)
                if found:
                    todo.append((index + 1, found.end()))
            else:
                todo += [
                    (index + 1, at + width)
                    for width, form in zip(self._widths[index], each, strict=True)
                    if form.match(data, at)
                ]
        return False


def _proper_prefixes(form: _Form) -> str:
    """A pattern for the non-empty proper prefixes of ``form``: A(?:B(?:C)?)? for ABCD."""
    nested = ""
    for atom in reversed(form[1:-1]):
        nested = f"(?:{atom}{nested})?"
    return form[0] + nested if len(form) > 1 else "(?!)"


class _Matcher:
    """The compiled patterns for a set of keys, text or bytes (built once per set and kind)."""

    def __init__(self, values: tuple[str, ...], binary: bool) -> None:
        self.keys = [_Key(v, binary) for v in values]
        source = "|".join(f"(?:{key.source})" for key in self.keys)
        opening = "|".join(key.opening for key in self.keys)
        # Literal text a match must contain at least one of: the key itself, or an escape.
        needles = [*values, "\\", "%"] + (["+"] if any(" " in v for v in values) else [])
        if binary:
            self.pattern: re.Pattern[Any] = re.compile(source.encode("latin-1"))
            self.opening: re.Pattern[Any] = re.compile(opening.encode("latin-1"))
            self.needles: tuple[Any, ...] = tuple(n.encode() for n in needles)
            self.redacted: Any = REDACTED.encode()
        else:
            self.pattern = re.compile(source)
            self.opening = re.compile(opening)
            self.needles = tuple(needles)
            self.redacted = REDACTED
        # The longest a match can be; no piece of a stream needs holding back longer than this.
        self.longest = max(key.longest for key in self.keys)

    def sub(self, data: Any) -> Any:
        # Most answers hold neither the key nor an escape: skip the pattern for them.
        if not any(needle in data for needle in self.needles):
            return data
        return self.pattern.sub(self.redacted, data)

    def may_start(self, data: Any, pos: int) -> bool:
        return any(key.may_start(data, pos) for key in self.keys)


@lru_cache(maxsize=32)
def _matcher(values: tuple[str, ...], binary: bool) -> _Matcher:
    return _Matcher(values, binary)


def scrub_bytes(data: bytes, secrets: Iterable[Secret | str | None]) -> bytes:
    """``data`` with every secret (as UTF-8: literal, JSON-escaped or percent-encoded) replaced
    by ``***``."""
    values = _values(secrets)
    if not values or not data:
        return data
    return _matcher(values, True).sub(data)


def scrub(text: str, secrets: Iterable[Secret | str | None]) -> str:
    """``text`` with every secret (literal, JSON-escaped or percent-encoded) replaced by
    ``***``."""
    values = _values(secrets)
    if not values or not text:
        return text
    return _matcher(values, False).sub(text)


class StreamScrubber:
    """:func:`scrub` for an answer that arrives in pieces (an SSE stream, a chunked body).

    ``feed(piece)`` returns what is safe to pass on so far, holding back only a tail that is a
    key (or its start) in some form, so at most one key's longest escaped form. ``close()``
    returns what is held back, scrubbed. Pieces are all ``bytes`` or all ``str``; joined, the
    outputs equal ``scrub`` (or ``scrub_bytes``) of the joined input, however it was cut.
    """

    def __init__(self, secrets: Iterable[Secret | str | None]) -> None:
        self._values = _values(secrets)
        self._held: Any = None
        self._matcher: _Matcher | None = None

    def feed(self, data: AnyStr) -> AnyStr:
        if self._held is None:
            self._held = data[:0]
            if self._values:
                self._matcher = _matcher(self._values, isinstance(data, bytes))
        elif type(data) is not type(self._held):
            raise TypeError("feed a StreamScrubber all bytes or all text")
        matcher = self._matcher
        if matcher is None:
            return data
        buffer: Any = self._held + data
        out: list[Any] = []
        pos = 0
        # A match that starts before ``cut`` lies wholly inside ``buffer`` (no match is longer
        # than ``longest``), so what follows cannot change it: the pattern decides, in one pass.
        cut = len(buffer) - (matcher.longest - 1)
        if cut > 0:
            for match in matcher.pattern.finditer(buffer):
                if match.start() >= cut:
                    break
                out += (buffer[pos : match.start()], matcher.redacted)
                pos = match.end()
        # The tail: each place a key could start is either a key already (scrubbed), the start
        # of one still arriving (held back from there), or nothing.
        at = max(pos, cut)
        while (start := matcher.opening.search(buffer, at)) is not None:
            at = start.start()
            if matcher.may_start(buffer, at):
                out.append(buffer[pos:at])
                self._held = buffer[at:]
                return buffer[:0].join(out)  # type: ignore[no-any-return]
            match = matcher.pattern.match(buffer, at)
            if match:
                out += (buffer[pos:at], matcher.redacted)
                pos = at = match.end()
            else:
                at += 1
        out.append(buffer[pos:])
        self._held = buffer[:0]
        return buffer[:0].join(out)  # type: ignore[no-any-return]

    def close(self) -> Any:
        """The held-back tail, scrubbed (``str`` or ``bytes`` as fed; ``""`` if nothing was).
        The scrubber is then ready for a new stream."""
        held, self._held = self._held, None
        if held is None:
            return ""
        if self._matcher is None:
            return held
        return self._matcher.sub(held)
