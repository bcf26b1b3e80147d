"""Rate limits: many jobs started at once against a relay that limits requests per key.

sora_nb's AsyncClient (every job's requests drawing turns from the one budget of the gateway and
key, polls answered from shared list requests) against the openai package's AsyncOpenAI, each
with `asyncio.gather` over every job, against the emulator's per-key token bucket with and
without `Retry-After`.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from .common import fmt_seconds, goal, ratio, row

NAME = "rate_limits"
TITLE = "Rate-limited relay: many jobs at once"
BURST = 2
JOB_SECONDS = 2.0
PAGE = 100  # videos per list page (OpenAI's maximum)
METHOD = f"""\
One emulator per case and side, in the benchmark's process, over loopback, dialect `openai`
(`/v1/videos`): each job renders {JOB_SECONDS:g} s, `concurrency` at least the number of jobs (no
job queues), and `rate_limit=(rate, {BURST})`: a token bucket per API key, `rate` requests a
second, {BURST} at once, every request on the gateway's origin counted (creates, status and list
requests, downloads), a 429 beyond it, with `Retry-After` (whole seconds until the next token),
without it (as new-api and one-api answer their own limits), or without it but with OpenAI's
`x-ratelimit-*-requests` headers on every answer (as a relay forwarding OpenAI's own would; the
bucket's burst is the limit, its refill the reset).
Every job is started at once. sora_nb: one `sora_nb.AsyncClient(dialect="openai")` and
`asyncio.gather` over `run_video(prepare(prompt, model="sora-2", duration=4, size="720x1280"),
out_dir=…)`, default settings (create, wait, download). openai: one `openai.AsyncOpenAI` and
`asyncio.gather` over `videos.create_and_poll(…)` then `videos.download_content(id)`, default
settings (`max_retries` 2; it polls every 1 s). A job is completed when its file was saved.
Every job has its own prompt, so duplicate creates = jobs the emulator made − distinct prompts
among them (a create answered 429 makes no job); jobs lost = jobs made whose id never reached
the caller (the create went through, a later request raised). 429 share = 429 answers / all
requests the gateway origin received.
Wall time: from the first create to `gather` returning. The bound the limit implies: a client
needs at least R = 2 × jobs + ⌈jobs / {PAGE}⌉ requests (a create and a download per job, and one
list page per {PAGE} jobs to learn they finished), of which the bucket lets {BURST} through at once
and the rest at `rate`: bound = max((R − {BURST}) / rate, {JOB_SECONDS:g} s). sora_nb's budget
is cleared before each case (a fresh process). The run covers 40 and 200 jobs at 1, 2 and 5
requests a second, each with and without `Retry-After`, and the 40-job cases with the headers
(about 50 minutes with both sides). One round per case."""


# How the relay speaks of its limit: Retry-After on its 429s, nothing, or OpenAI's headers.
SIGNALS = ("retry_after", "none", "headers")


def _plan(quick: bool) -> list[tuple[int, float, str]]:
    if quick:
        return [(12, 5.0, signal) for signal in SIGNALS]
    return [
        (n, r, signal)
        for n in (40, 200)
        for r in (1.0, 2.0, 5.0)
        for signal in SIGNALS
        if signal != "headers" or n == 40
    ]


def bound(jobs: int, rate: float) -> float:
    """The least wall time the limit allows (see METHOD)."""
    needed = 2 * jobs + math.ceil(jobs / PAGE)
    return max((needed - BURST) / rate, JOB_SECONDS)


async def _sora_nb(base_url: str, jobs: int, folder: Path) -> dict[str, Any]:
    import sora_nb

    async with sora_nb.AsyncClient(base_url=base_url, api_key="sk-bench", dialect="openai") as c:
        prepared = [
            c.prepare(f"rate-limited job {i}", model="sora-2", duration=4, size="720x1280")
            for i in range(jobs)
        ]
        done = await asyncio.gather(
            *(c.run_video(p, out_dir=folder) for p in prepared), return_exceptions=True
        )
        budget = c.budget.snapshot()
    ids = {o.job.id for o in done if not isinstance(o, BaseException)}
    errors = [o for o in done if isinstance(o, BaseException)]
    saved = sum(1 for o in done if not isinstance(o, BaseException) and o.path is not None)
    return {"ids": ids, "completed": saved, "errors": errors, "budget": budget}


async def _openai(base_url: str, jobs: int, folder: Path) -> dict[str, Any]:
    import openai

    ids: set[str] = set()

    async def one(i: int, c: Any) -> bool:
        video = await c.videos.create_and_poll(
            prompt=f"rate-limited job {i}", model="sora-2", seconds="4", size="720x1280"
        )
        ids.add(video.id)
        if video.status != "completed":
            return False
        content = await c.videos.download_content(video.id)
        (folder / f"{video.id}.mp4").write_bytes(content.content)
        return True

    async with openai.AsyncOpenAI(base_url=base_url, api_key="sk-bench") as c:
        done = await asyncio.gather(*(one(i, c) for i in range(jobs)), return_exceptions=True)
    errors = [o for o in done if isinstance(o, BaseException)]
    return {"ids": ids, "completed": sum(1 for o in done if o is True), "errors": errors}


def _one(side: str, jobs: int, rate: float, signal: str, seed: int) -> dict[str, Any]:
    import openai  # noqa: F401  (imported before the clock starts, as in a warm process)

    import sora_nb.client  # noqa: F401
    from sora_nb import budget
    from sora_nb.emulator import serve

    budget.clear()
    knobs = {
        "job_seconds": JOB_SECONDS,
        "concurrency": max(16, jobs),
        "seed": seed,
        "rate_limit": (rate, BURST),
        "rate_limit_retry_after": signal == "retry_after",
        "rate_limit_headers": signal == "headers",
    }
    with serve(**knobs) as emu, tempfile.TemporaryDirectory() as tmp:
        main = _sora_nb if side == "sora_nb" else _openai
        t0 = time.monotonic()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            out = asyncio.run(main(emu.base_url, jobs, Path(tmp)))
        wall = time.monotonic() - t0
        counters, limited = emu.counters, emu.counters_429
        prompts = [emu.jobs[j].prompt for j in emu.jobs]
    counters.pop("cdn", None)
    limited.pop("cdn", None)
    requests, refused = sum(counters.values()), sum(limited.values())
    kinds = {k: v for k, v in counters.items() if v}
    first_error = next((f"{type(e).__name__}: {e}" for e in out["errors"]), None)
    return {
        "completed": out["completed"],
        "jobs": jobs,
        "made": len(prompts),
        "duplicates": len(prompts) - len(set(prompts)),
        "lost": len(prompts) - len(out["ids"]),
        "requests": requests,
        "limited": refused,
        "share_429": refused / requests if requests else 0.0,
        "by_kind": kinds,
        "limited_by_kind": {k: v for k, v in limited.items() if v},
        "wall": wall,
        "failed": len(out["errors"]),
        "first_error": first_error[:300] if first_error else None,
        "budget": out.get("budget"),
    }


_SIGNAL_LABEL = {
    "retry_after": "Retry-After",
    "none": "no Retry-After",
    "headers": "x-ratelimit headers",
}


def _label(jobs: int, rate: float, signal: str) -> str:
    return f"{jobs} jobs, {rate:g}/s, {_SIGNAL_LABEL[signal]}"


def run(quick: bool = False) -> dict[str, Any]:
    plan = _plan(quick)
    table: list[dict[str, Any]] = []
    seed = 300
    for jobs, rate, signal in plan:
        seed += 1
        sides = ("sora_nb", "openai") if seed % 2 else ("openai", "sora_nb")
        case: dict[str, Any] = {"jobs": jobs, "rate": rate, "signal": signal}
        for side in sides:
            case[side] = _one(side, jobs, rate, signal, seed)
        case["bound"] = bound(jobs, rate)
        table.append(case)
    rows = []
    for c in table:
        s, o, b = c["sora_nb"], c["openai"], c["bound"]
        label = _label(c["jobs"], c["rate"], c["signal"])
        rows.append(
            row(
                f"{label}: completed, duplicate creates, 429 share of requests",
                f"{s['completed']}/{c['jobs']}, {s['duplicates']} dup., "
                f"{s['share_429']:.1%} of {s['requests']}",
                f"openai: {o['completed']}/{c['jobs']} ({o['lost']} made but lost), "
                f"{o['duplicates']} dup., {o['share_429']:.1%} of {o['requests']}",
                ratio(s["completed"], o["completed"]),
            )
        )
        rows.append(
            row(
                f"{label}: wall time (bound {fmt_seconds(b)})",
                f"{fmt_seconds(s['wall'])} = {s['wall'] / b:.2f}× bound",
                f"openai: {fmt_seconds(o['wall'])} = {o['wall'] / b:.2f}× bound, "
                f"{o['completed']} completed",
                ratio(s["wall"], o["wall"]),
            )
        )
    worst_share = max(c["sora_nb"]["share_429"] for c in table)
    worst_wall = max(c["sora_nb"]["wall"] / c["bound"] for c in table)
    missing = sum(c["jobs"] - c["sora_nb"]["completed"] for c in table)
    dups = sum(c["sora_nb"]["duplicates"] for c in table)
    goals = [
        goal(
            "sora_nb: every job completes, no duplicate create, in every case",
            f"{missing} jobs not completed, {dups} duplicates over {len(table)} cases",
            missing == 0 and dups == 0,
        ),
        goal(
            "sora_nb: 429 answers at most 5 % of requests, in every case",
            f"worst {worst_share:.1%}",
            worst_share <= 0.05,
        ),
        goal(
            "sora_nb: wall time within 1.25× the bound the limit implies, in every case",
            f"worst {worst_wall:.2f}×",
            worst_wall <= 1.25,
        ),
    ]
    return {
        "rows": rows,
        "goals": goals,
        "notes": notes(table),
        "params": {
            "cases": ", ".join(f"{n}×{r:g}/s {_SIGNAL_LABEL[s]}" for n, r, s in plan),
            "burst": BURST,
            "job_seconds": JOB_SECONDS,
        },
        "raw": {"table": table},
    }


def _kinds(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in counts.items()) or "none"


def notes(table: list[dict[str, Any]]) -> list[str]:
    """What each side sent, by kind, and how the openai side's jobs ended."""
    out = []
    for c in table:
        s, o = c["sora_nb"], c["openai"]
        text = (
            f"{_label(c['jobs'], c['rate'], c['signal'])}: sora_nb sent "
            f"{_kinds(s['by_kind'])} (429s: {_kinds(s['limited_by_kind'])}); openai sent "
            f"{_kinds(o['by_kind'])} (429s: {_kinds(o['limited_by_kind'])}) and "
            f"{o['failed']} of its jobs raised"
        )
        if o["first_error"]:
            text += f", e.g. `{o['first_error']}`"
        out.append(text)
    return out


def explain(result: dict[str, Any]) -> list[str]:
    out = []
    for c in result["raw"]["table"]:
        s, b = c["sora_nb"], c["bound"]
        label = _label(c["jobs"], c["rate"], c["signal"])
        problems = []
        if s["completed"] < c["jobs"] or s["duplicates"]:
            problems.append(
                f"{s['completed']}/{c['jobs']} completed, {s['duplicates']} duplicates "
                f"({s['first_error']})"
            )
        if s["share_429"] > 0.05:
            problems.append(f"{s['limited']} 429s of {s['requests']} requests")
        if s["wall"] / b > 1.25:
            refused = _kinds(s["limited_by_kind"])
            problems.append(
                f"{fmt_seconds(s['wall'])} against a bound of {fmt_seconds(b)}, "
                f"{s['requests']} requests in all ({s['limited']} answered 429: {refused})"
            )
        if problems:
            out.append(f"{label}: " + "; ".join(problems) + ".")
    if not out:
        return []
    return [
        *out,
        "A relay that sends no rate-limit headers shows its limit only by refusing requests: the "
        "budget starts with no limit known and learns it from the first 429s, and with "
        "`Retry-After: 1` each of them holds every job back a whole second while the bucket "
        "refills faster. The learning happens once per gateway and key in a process: a second "
        "batch starts from the learned pace.",
    ]
