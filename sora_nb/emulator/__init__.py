"""A local stand-in for OpenAI-compatible video gateways ("relays"), for tests and tutorials.

It speaks every dialect sora_nb knows (unified /v1/video/*, OpenAI /v1/videos, streamed chat,
images) and shapes real relay software sends (new-api's task routes, errors and billing; the
sora2api bridge's chat), renders real mp4s (H.264 video, AAC sound) served from a second "CDN"
origin, and injects faults. `families=` picks which route families one instance serves.

    from sora_nb.emulator import serve, Fault
    with serve(job_seconds=1, seed=7, faults=[Fault(kind="poll", status=503, times=1)]) as emu:
        emu.base_url   # "http://127.0.0.1:<port>/v1"

Command line: `python -m sora_nb.emulator --port 8000`.
Needs the `emulator` extra (starlette, python-multipart, uvicorn, av).

Layout: `config` (the knobs), `jobs` (store and schedule), `progress` (how reported progress
moves), `faults`, `ratelimit` (per-key token buckets), `state` (what both origins share),
`shapes/` (the JSON answers, pure), `routes/` (handlers per family), `front` (counting, auth,
rate limit and connection faults), `files` (ranges, padding, the CDN), `sse`, `render` (media),
`app` (assembly) and `server` (the running thing).
"""

from __future__ import annotations

from .config import EmulatorConfig
from .faults import Fault
from .jobs import JobInfo
from .server import Emulator, RequestRecord, serve

__all__ = ["Emulator", "EmulatorConfig", "Fault", "JobInfo", "RequestRecord", "serve"]
