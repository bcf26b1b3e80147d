"""``dialect="auto"``: ask a relay which request families it serves, then pick one. Every probe
is a GET for an id no relay has, so nothing is created or billed (``dialects.probe`` says what
is sent and how answers are read). Results are kept per base URL, in memory and in the data
folder, for a week.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from . import dialects
from ._secret import Secret
from .config import AUTO
from .dialects.probe import PREFERENCE, classify, probes
from .paths import data_dir

__all__ = ["AUTO", "ProbeResult", "probe"]

_TTL = 7 * 24 * 3600.0
_MEMORY: dict[str, ProbeResult] = {}


@dataclass(frozen=True)
class ProbeResult:
    """What a relay answered: the families it serves, those it lacks, those it did not say."""

    base_url: str
    served: tuple[str, ...]
    missing: tuple[str, ...] = ()
    unsure: tuple[str, ...] = ()
    requests: int = 0
    at: float = field(default_factory=time.time)

    def best(self) -> str | None:
        """The family videos go through by default: see ``dialects.probe.PREFERENCE``."""
        for name in (*PREFERENCE, *self.served):
            if name in self.served:
                return name
        return None

    def line(self) -> str:
        parts = [f"{self.base_url} serves {', '.join(self.served) or 'none of the known families'}"]
        if self.unsure:
            parts.append(f"did not say for {', '.join(self.unsure)}")
        best = self.best()
        if best:
            parts.append(f"videos go through {best}")
        return "; ".join(parts) + f" ({self.requests} GET requests, nothing created)"


def _cache_file() -> Path:
    return data_dir() / "probes.json"


def _read_cache() -> dict[str, Any]:
    try:
        return json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_cache(result: ProbeResult) -> None:
    cache = _read_cache()
    cache[result.base_url] = {
        "served": result.served,
        "missing": result.missing,
        "unsure": result.unsure,
        "requests": result.requests,
        "at": result.at,
    }
    try:
        _cache_file().parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _cache_file().write_text(json.dumps(cache, indent=1), encoding="utf-8")
    except OSError:
        pass  # a read-only home: probing again next time is the only cost


def forget_in_process() -> None:
    """Forget what this process learned by probing (the cache file is left alone)."""
    _MEMORY.clear()


def cached(base_url: str) -> ProbeResult | None:
    found = _MEMORY.get(base_url)
    if found is None:
        row = _read_cache().get(base_url)
        if isinstance(row, dict) and time.time() - float(row.get("at", 0)) < _TTL:
            found = ProbeResult(
                base_url,
                tuple(row.get("served", ())),
                tuple(row.get("missing", ())),
                tuple(row.get("unsure", ())),
                int(row.get("requests", 0)),
                float(row.get("at", 0)),
            )
    return found if found is not None and time.time() - found.at < _TTL else None


def probe(
    base_url: str,
    api_key: str | Secret | None = None,
    *,
    verify: bool = True,
    timeout: float = 10.0,
    fresh: bool = False,
    transport: httpx.BaseTransport | None = None,
    families: Iterable[str] | None = None,
) -> ProbeResult:
    """Which families ``base_url`` serves (cached for a week unless ``fresh``)."""
    if not fresh:
        known = cached(base_url)
        if known is not None:
            return known
    key = api_key.reveal() if isinstance(api_key, Secret) else api_key
    headers = {"User-Agent": "sora_nb", "Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    chosen = [dialects.get(n) for n in (families or dialects.names())]
    served, missing, unsure = [], [], []
    sent = 0
    with httpx.Client(timeout=timeout, verify=verify, headers=headers, transport=transport) as http:
        for name, request in probes(chosen):
            sent += 1
            try:
                response = http.request(
                    request.method, f"{base_url}/{request.path}", params=request.params
                )
                verdict = classify(
                    response.status_code,
                    response.text[:4096],
                    streams=dialects.get(name).abilities.streams,
                )
            except httpx.HTTPError:
                verdict = "unsure"
            {"served": served, "missing": missing}.get(verdict, unsure).append(name)
    result = ProbeResult(base_url, tuple(served), tuple(missing), tuple(unsure), sent)
    _MEMORY[base_url] = result
    _write_cache(result)
    return result
