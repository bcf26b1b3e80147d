"""Noticing completion: how late the client learns that a job finished, and how many requests
it sends meanwhile, for sora_nb's poll schedule against fixed polling every 1, 3 and 10 s."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any
from urllib.parse import parse_qs

from .common import fmt_seconds, goal, median, quantile, ratio, row

NAME = "polling"
TITLE = "Noticing completion (polling)"
STRATEGIES = ("sora_nb", "fixed_1", "fixed_3", "fixed_10")
FIXED = {"fixed_1": 1.0, "fixed_3": 3.0, "fixed_10": 10.0}
METHOD = """\
One emulator in the benchmark's process serves every job of every strategy at the same time
(so they share conditions), dialect `unified` (`POST /v1/video/create`, `GET /v1/video/query`,
whose answer carries `progress_pct`; no poll hint), `concurrency` high enough that no job ever
queues. For each job duration D and each strategy, N jobs are created, the creates staggered
evenly over a window and interleaved across strategies and durations (job i of every strategy is
created within a fraction of a second of the others). Strategies: sora_nb
(`AsyncClient(dialect="unified").create_video(…)` then `.wait(job)`, default settings:
`poll_interval` 1 s, `max_poll_interval` 30 s), and a plain httpx loop that asks at once after
the create and then every 1 s (the openai package's default), 3 s (the st-ai gateway docs'
sample) or 10 s (the xiaojingai guide's advice). A fixed poller's grid is anchored at its create,
so with render times that are exact multiples of its interval every job would end right on a
poll; to make the phase between poll and finish vary as it does against a real gateway, job i of
every strategy renders for D + δᵢ, the δᵢ spread evenly over ±min(5 s, D/4), the same δᵢ for
every strategy.
The finish time is the emulator's own: `emu.jobs[id]` (`JobInfo`) carries no timestamp, so it is
read from the scheduler's record (`emu.store.get(id).end`, `time.monotonic()` of this process),
and checked against created + render time (nothing queued). Delay = the moment the client had
the answer saying `completed` − that finish. Requests per job = the create + every status
request the emulator logged for that id."""


def _plan(quick: bool) -> dict[str, Any]:
    if quick:
        return {"durations": [4.0, 8.0, 16.0], "per": 3, "window": 3.0, "spread": 5.0}
    return {"durations": [20.0, 60.0, 180.0], "per": 12, "window": 12.0, "spread": 5.0}


def _offsets(n: int, half: float) -> list[float]:
    """n offsets spread evenly over [-half, +half), in an order that mixes small and large."""
    evenly = [-half + (k + 0.5) * 2 * half / n for k in range(n)]
    order = sorted(range(n), key=lambda k: (k * 7) % n) if n > 1 else [0]
    return [evenly[k] for k in order]


_BODY = {
    "images": [],
    "model": "sora-2",
    "orientation": "portrait",
    "size": "small",
    "duration": 10,  # the video's length; the render time is the emulator's job_seconds
}


async def _campaign(emu: Any, plan: dict[str, Any]) -> list[dict[str, Any]]:
    import httpx

    import sora_nb

    lock = asyncio.Lock()
    base = emu.base_url
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
    http = httpx.AsyncClient(timeout=60, limits=limits, headers={"Authorization": "Bearer x"})
    sora = sora_nb.AsyncClient(base_url=base, api_key="sk-bench", dialect="unified")

    async def create(render: float, prompt: str, strategy: str) -> str:
        async with lock:  # the render time is the emulator's knob at the moment of the create
            emu.set(job_seconds=render)
            if strategy == "sora_nb":
                job = await sora.create_video(
                    prompt,
                    model="sora-2",
                    orientation="portrait",
                    size="small",
                    duration=10,
                    dialect="unified",
                )
                return job.id
            r = await http.post(f"{base}/video/create", json={**_BODY, "prompt": prompt})
            r.raise_for_status()
            return r.json()["id"]

    async def one(strategy: str, duration: float, i: int, render: float, at: float) -> dict:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        prompt = f"{strategy} {duration:g}s job {i}"
        job_id = await create(render, prompt, strategy)
        if strategy == "sora_nb":
            job = await sora.wait(job_id, timeout=None)
            noticed = time.monotonic()
            if job.status != "completed":
                raise RuntimeError(f"{job_id}: {job.status}")
        else:
            interval = FIXED[strategy]
            while True:
                r = await http.get(f"{base}/video/query", params={"id": job_id})
                r.raise_for_status()
                status = r.json()["status"]
                if status == "completed":
                    noticed = time.monotonic()
                    break
                if status == "failed":
                    raise RuntimeError(f"{job_id} failed")
                await asyncio.sleep(interval)
        return {
            "strategy": strategy,
            "duration": duration,
            "i": i,
            "render": render,
            "id": job_id,
            "noticed": noticed,
        }

    order = [(i, d, s) for i in range(plan["per"]) for d in plan["durations"] for s in STRATEGIES]
    step = plan["window"] / len(order)
    start = time.monotonic() + 0.2
    tasks = []
    for k, (i, d, s) in enumerate(order):
        half = min(plan["spread"], d / 4)
        render = d + _offsets(plan["per"], half)[i]
        tasks.append(asyncio.create_task(one(s, d, i, render, start + k * step)))
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        await sora.aclose()
        await http.aclose()


def _measure(plan: dict[str, Any]) -> list[dict[str, Any]]:
    from sora_nb.emulator import serve

    with serve(job_seconds=1.0, concurrency=100_000, seed=3) as emu:
        results = asyncio.run(_campaign(emu, plan))
        polls: Counter[str] = Counter()
        for rec in emu.requests:
            if rec.kind == "poll":
                polls[parse_qs(rec.query).get("id", [""])[0]] += 1
        for res in results:
            job = emu.store.get(res["id"])
            assert job is not None and job.end is not None and job.start is not None
            res["queued"] = job.start - job.created
            res["render_check"] = job.end - (job.created + res["render"])
            res["delay"] = res["noticed"] - job.end
            res["requests"] = 1 + polls[res["id"]]
    return results


def run(quick: bool = False) -> dict[str, Any]:
    plan = _plan(quick)
    results = _measure(plan)
    table: dict[str, dict[str, dict[str, float]]] = {}
    for d in plan["durations"]:
        key = f"{d:g}"
        table[key] = {}
        for s in STRATEGIES:
            mine = [r for r in results if r["duration"] == d and r["strategy"] == s]
            table[key][s] = {
                "median_delay": median([r["delay"] for r in mine]),
                "p90_delay": quantile([r["delay"] for r in mine], 0.9),
                "max_delay": max(r["delay"] for r in mine),
                "requests": sum(r["requests"] for r in mine) / len(mine),
                "jobs": len(mine),
            }
    rows, goals = [], []
    for key, by in table.items():
        sn = by["sora_nb"]
        delays = " · ".join(f"{FIXED[s]:g} s: {fmt_seconds(by[s]['median_delay'])}" for s in FIXED)
        requests = " · ".join(f"{FIXED[s]:g} s: {by[s]['requests']:.1f}" for s in FIXED)
        rows.append(
            row(
                f"{key} s jobs: median delay to notice (ratio vs 3 s polling)",
                f"{fmt_seconds(sn['median_delay'])} (p90 {fmt_seconds(sn['p90_delay'])})",
                f"fixed {delays}",
                ratio(sn["median_delay"], by["fixed_3"]["median_delay"]),
            )
        )
        rows.append(
            row(
                f"{key} s jobs: requests per job (ratio vs 10 s polling)",
                f"{sn['requests']:.1f}",
                f"fixed {requests}",
                ratio(sn["requests"], by["fixed_10"]["requests"]),
            )
        )
        faster = sn["median_delay"] < by["fixed_3"]["median_delay"]
        fewer = sn["requests"] < by["fixed_10"]["requests"]
        goals.append(
            goal(
                f"{key} s jobs: median delay below 3 s polling's and fewer requests than "
                "10 s polling",
                f"{fmt_seconds(sn['median_delay'])} vs {fmt_seconds(by['fixed_3']['median_delay'])}"
                f"; {sn['requests']:.1f} vs {by['fixed_10']['requests']:.1f} requests",
                faster and fewer,
            )
        )
    queued = max(r["queued"] for r in results)
    drift = max(abs(r["render_check"]) for r in results)
    notes = [
        f"{len(results)} jobs in one emulator; none queued (longest wait for a slot "
        f"{queued * 1000:.1f} ms); finish = created + render time within {drift * 1000:.2f} ms.",
        "`JobInfo` (what `emu.jobs[id]` returns) has no created/started/finished timestamps; "
        "the finish time was read from the scheduler's record (`emu.store.get(id).end`).",
    ]
    return {
        "rows": rows,
        "goals": goals,
        "notes": notes,
        "params": plan,
        "raw": {"table": table, "jobs": results},
    }


def explain(result: dict[str, Any]) -> list[str]:
    out = []
    table = result["raw"]["table"]
    for key, by in table.items():
        sn, f3, f10 = by["sora_nb"], by["fixed_3"], by["fixed_10"]
        if sn["median_delay"] < f3["median_delay"] and sn["requests"] < f10["requests"]:
            continue
        out.append(
            f"{key} s jobs: sora_nb {fmt_seconds(sn['median_delay'])} and "
            f"{sn['requests']:.1f} requests per job; 3 s polling "
            f"{fmt_seconds(f3['median_delay'])}; 10 s polling {f10['requests']:.1f} requests. "
            "sora_nb's schedule (`sora_nb/polling.py`) spends a fixed minimum per job: the "
            "create, a poll at once, one after `poll_interval` (1 s) to learn the progress rate, "
            "then one every `max_interval` (30 s) while the predicted end is further away and "
            "one `margin` (0.5 s) after it. That is 4 requests for any job under about 30 s, "
            "while 10 s polling needs 2 + ceil(D / 10): for jobs shorter than 20 s it sends "
            "fewer. Skipping the immediate first poll (the create's answer already says "
            "queued) would save one request per job."
        )
    return out
