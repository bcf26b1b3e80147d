"""Batch prompts, read: one per line of a cell, a CSV or JSONL file, a list, or a DataFrame's
``prompt`` column. Each becomes an :class:`Item`: a prompt, its own options (only those it
gave), and where it came from, so a mistake names its line. Pure; ``sora_nb.batch`` plans and
runs what these read.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _exceptions as E

__all__ = [
    "FORMATS",
    "OPTIONS",
    "BatchError",
    "Item",
    "format_of",
    "from_frame",
    "from_values",
    "parse_csv",
    "parse_jsonl",
    "parse_text",
    "read_items",
]

# The options an item may carry, besides its prompt (``seconds`` is read as ``duration``).
OPTIONS = ("model", "duration", "size", "orientation")
_ALIASES = {"seconds": "duration"}


class BatchError(E.ValidationError):
    """A batch that cannot start: a line that cannot be read (named), an item the model rules
    refuse, a cap passed. Nothing has been sent."""


@dataclass(frozen=True)
class Item:
    """One prompt of a batch, its own options (only those it gave), and where it came from."""

    prompt: str
    options: Mapping[str, Any] = field(default_factory=dict)
    where: str = ""


def _blank(value: Any) -> bool:
    """An empty cell: None, "", or NaN (what pandas puts in a missing cell)."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _options(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The options of one item, checked for type; a name sora_nb does not know is an error
    (a typo in a column of a paid batch should not be silently dropped)."""
    out: dict[str, Any] = {}
    for name, value in raw.items():
        key = _ALIASES.get(name, name)
        if key not in OPTIONS:
            raise BatchError(
                f"{where}: unknown option {name!r}; an item takes prompt, "
                "model, duration (or seconds), size, orientation"
            )
        if _blank(value):
            continue
        if key in out:
            raise BatchError(f"{where}: both seconds and duration given; give one")
        if key == "duration":
            out[key] = _seconds(value, where)
        elif isinstance(value, str):
            out[key] = value.strip()
        else:
            raise BatchError(f"{where}: {name} must be text, not {value!r}")
    return out


def _seconds(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise BatchError(f"{where}: duration must be a number of seconds, not {value!r}")
    try:
        seconds = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise BatchError(f"{where}: duration {value!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise BatchError(f"{where}: duration must be a positive number of seconds, not {value!r}")
    return seconds


def _prompt(value: Any, where: str) -> str:
    if _blank(value):
        raise BatchError(f"{where}: no prompt")
    if not isinstance(value, str):
        raise BatchError(f"{where}: the prompt must be text, not {value!r}")
    return value.strip()


def parse_text(text: str, source: str = "", *, first_line: int = 1) -> list[Item]:
    """One prompt per line; blank lines and lines starting with ``#`` are skipped.
    ``first_line``: the number of the text's first line where the user sees it."""
    items = []
    for number, line in enumerate(text.splitlines(), start=first_line):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        items.append(Item(stripped, {}, _where(source, f"line {number}")))
    return items


def parse_csv(text: str, source: str = "") -> list[Item]:
    """A CSV file with a header: a ``prompt`` column, and optionally ``model``, ``duration``
    (or ``seconds``), ``size``, ``orientation``. An empty cell leaves that option to the
    batch's own (or the settings')."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        return []
    except csv.Error as exc:
        raise BatchError(f"{_where(source, 'line 1')}: {exc}") from None
    names = [h.strip().lower() for h in header]
    if "prompt" not in names:
        raise BatchError(
            f"{_where(source, 'line 1')}: no 'prompt' column in the header "
            f"({', '.join(repr(n) for n in names) or 'empty'})"
        )
    for name in names:
        if name != "prompt" and _ALIASES.get(name, name) not in OPTIONS:
            raise BatchError(
                f"{_where(source, 'line 1')}: unknown column {name!r}; columns: prompt, "
                "model, duration (or seconds), size, orientation"
            )
    if len(set(names)) != len(names):
        raise BatchError(f"{_where(source, 'line 1')}: a column is named twice")
    items = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise BatchError(f"{_where(source, f'line {reader.line_num}')}: {exc}") from None
        where = _where(source, f"line {reader.line_num}")
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(names):
            raise BatchError(f"{where}: {len(row)} fields, but the header names {len(names)}")
        values = dict(zip(names, row, strict=False))
        prompt = _prompt(values.pop("prompt", ""), where)
        items.append(Item(prompt, _options(values, where), where))
    return items


def parse_jsonl(text: str, source: str = "") -> list[Item]:
    """One JSON object per line: ``{"prompt": "…", "model": "…", "duration": 10, …}`` (or a
    bare JSON string, a prompt alone). Blank lines are skipped."""
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = _where(source, f"line {number}")
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise BatchError(f"{where}: not valid JSON ({exc})") from None
        if isinstance(value, str):
            items.append(Item(_prompt(value, where), {}, where))
            continue
        if not isinstance(value, dict):
            raise BatchError(f"{where}: expected an object with a prompt, not {value!r:.60}")
        values = dict(value)
        prompt = _prompt(values.pop("prompt", None), where)
        items.append(Item(prompt, _options(values, where), where))
    return items


FORMATS = {"text": parse_text, "csv": parse_csv, "jsonl": parse_jsonl}
_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


def format_of(path: str | Path) -> str:
    """The format a file's name suggests: ``.csv``, ``.jsonl``/``.ndjson``, else text."""
    return _SUFFIXES.get(Path(path).suffix.lower(), "text")


def read_items(path: str | Path, format: str | None = None) -> list[Item]:
    """The items of a prompts file (format from its suffix unless given)."""
    kind = format or format_of(path)
    if kind not in FORMATS:
        raise BatchError(f"unknown format {kind!r}; formats: {', '.join(FORMATS)}")
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BatchError(f"{path}: not UTF-8 text ({exc.reason})") from None
    return FORMATS[kind](text, str(path))


def from_values(
    values: Iterable[Any], source: str = "", labels: Sequence[Any] | None = None
) -> list[Item]:
    """Prompts from a list of strings (or a pandas Series: its index labels the items)."""
    items = []
    values = list(values)
    labels = list(labels) if labels is not None else list(range(len(values)))
    for label, value in zip(labels, values, strict=False):
        where = f"{source}[{label!r}]" if source else f"item {label!r}"
        items.append(Item(_prompt(value, where), {}, where))
    return items


def from_frame(frame: Any, source: str = "") -> list[Item]:
    """Prompts from a DataFrame (duck-typed: ``columns``, ``index``, ``to_dict``): its
    ``prompt`` column, and option columns as in a CSV file; other columns are an error."""
    names = [str(c) for c in frame.columns]
    lowered = [n.strip().lower() for n in names]
    if "prompt" not in lowered:
        raise BatchError(f"{source or 'the DataFrame'} has no 'prompt' column ({', '.join(names)})")
    items = []
    for label, record in zip(list(frame.index), frame.to_dict("records"), strict=False):
        where = f"{source} row {label!r}" if source else f"row {label!r}"
        values = {str(k).strip().lower(): v for k, v in record.items()}
        prompt = _prompt(values.pop("prompt", None), where)
        items.append(Item(prompt, _options(values, where), where))
    return items


def _where(source: str, place: str) -> str:
    return f"{source} {place}" if source else place
