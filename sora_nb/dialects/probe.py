"""Which families a relay serves, found without creating anything. Pure: the requests to send
and how to read their answers; ``sora_nb.probing`` sends them.

For each registered family that has a status route, one GET of that route for an id no relay
has (``sora-nb-probe``): a relay that serves the route answers "no such task" (new-api: 400
``{"code": "task_not_exist"}``, ``relay/relay_task.go``; OpenAI-style relays: 404 with an error
about the video), and one that does not answers "no such route" (new-api: 404 ``Invalid URL
(GET /v1/…)``, ``controller/relay.go`` ``RelayNotFound``; FastAPI relays: 404
``{"detail": "Not Found"}``). The chat family is known by ``GET /models`` answering a list.
Nothing here can start a job: every probe is a GET.
"""

from __future__ import annotations

import json
from typing import Any

from ._base import HttpRequest
from ._dialect import Dialect

__all__ = ["PREFERENCE", "PROBE_ID", "classify", "probes"]

PROBE_ID = "sora-nb-probe"
# When a relay serves several families, the one a video is made through by default: the unified
# family first (what the 6ai.chat and xiaojingai relay docs describe), then OpenAI's routes,
# new-api's task routes, and chat (one long stream) last.
PREFERENCE = ("unified", "openai", "newapi")
_ROUTE_MISSING = ("invalid url", "no route", "unknown route", "route not found", "cannot get")


def probes(families: list[Dialect]) -> list[tuple[str, HttpRequest]]:
    """(family name, request) for every family that can be probed; chat by ``GET /models``."""
    out = []
    for family in families:
        if family.abilities.poll:
            out.append((family.name, family.build_poll(PROBE_ID)))
        elif family.abilities.streams:
            out.append((family.name, HttpRequest("GET", "models", "probe")))
    return out


def classify(status: int, text: str, *, streams: bool = False) -> str:
    """``served``, ``missing`` or ``unsure`` for one probe's answer."""
    body: Any
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    lowered = text.lower()
    if streams:  # GET /models
        if status == 200 and isinstance(body, dict) and isinstance(body.get("data"), list):
            return "served"
        return "missing" if status in (404, 405) else "unsure"
    if status == 404:
        if body is None or any(words in lowered for words in _ROUTE_MISSING):
            return "missing"  # an HTML page, an empty body, or "Invalid URL (GET /v1/…)"
        if isinstance(body, dict) and body.get("detail") == "Not Found":
            return "missing"  # FastAPI's and Starlette's own 404 for a route they lack
        return "served"  # the route is there; the task is not
    if status == 200:
        # A status route answers JSON; a page or a file answered to anything is no evidence.
        return "served" if isinstance(body, dict) else "unsure"
    if status in (400, 405, 409, 422):
        return "served"
    return "unsure"  # 401/403 (the key), 429, 5xx: nothing learnt about the route
