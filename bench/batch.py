"""Batch: many video jobs at once. sora_nb's AsyncClient + asyncio.gather over generate_video,
against the openai package's AsyncOpenAI + asyncio.gather over videos.create_and_poll."""

from __future__ import annotations

import asyncio
import math
import time
import warnings
from typing import Any

from .common import alternate, fmt_seconds, goal, median, ratio, row

NAME = "batch"
TITLE = "Batch of video jobs"
METHOD = """\
One emulator per run, in the benchmark's process, over loopback: `job_seconds` render time per
job, `concurrency` jobs rendering at once (the rest queue, first in first out), no poll hint
(no `openai-poll-after-ms`). sora_nb: one `sora_nb.AsyncClient(dialect="openai")` and
`asyncio.gather` over `generate_video(prompt, model="sora-2", duration=4, size="720x1280")`,
default settings. openai: one `openai.AsyncOpenAI` and `asyncio.gather` over
`videos.create_and_poll(prompt=…, model="sora-2", seconds="4", size="720x1280")`, default
settings (it polls every 1 s without a hint). The time is from the first create to the moment
`gather` returns; the lower bound is `ceil(jobs / concurrency) × job_seconds`. Requests per job
are counted by the emulator (creates + status requests). The two sides alternate, the order
reversed every other round; figures are medians."""


def _plan(quick: bool) -> dict[str, Any]:
    if quick:
        return {"jobs": 16, "concurrency": 8, "job_seconds": 2.0, "rounds": 2}
    return {"jobs": 64, "concurrency": 16, "job_seconds": 4.0, "rounds": 3}


async def _timed(coro: Any) -> tuple[Any, float]:
    """The job and the moment (monotonic) the client had it back."""
    job = await coro
    return job, time.monotonic()


async def _sora_nb(base_url: str, jobs: int) -> list[tuple[str, float]]:
    import sora_nb

    async with sora_nb.AsyncClient(base_url=base_url, api_key="sk-bench", dialect="openai") as c:
        done = await asyncio.gather(
            *(
                _timed(
                    c.generate_video(f"batch job {i}", model="sora-2", duration=4, size="720x1280")
                )
                for i in range(jobs)
            )
        )
    return [(job.id, t) for job, t in done]


async def _openai(base_url: str, jobs: int) -> list[tuple[str, float]]:
    import openai

    async with openai.AsyncOpenAI(base_url=base_url, api_key="sk-bench") as c:
        done = await asyncio.gather(
            *(
                _timed(
                    c.videos.create_and_poll(
                        prompt=f"batch job {i}", model="sora-2", seconds="4", size="720x1280"
                    )
                )
                for i in range(jobs)
            )
        )
    bad = [v.id for v, _ in done if v.status != "completed"]
    if bad:
        raise RuntimeError(f"openai side: {len(bad)} jobs did not complete")
    return [(v.id, t) for v, t in done]


def _one(side: str, plan: dict[str, Any], seed: int) -> dict[str, Any]:
    import openai  # noqa: F401  (imported before the clock starts, as in a warm process)

    import sora_nb.client  # noqa: F401
    from sora_nb.emulator import serve

    with serve(job_seconds=plan["job_seconds"], concurrency=plan["concurrency"], seed=seed) as emu:
        main = _sora_nb if side == "sora_nb" else _openai
        t0 = time.monotonic()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            done = asyncio.run(main(emu.base_url, plan["jobs"]))
        t1 = time.monotonic()
        counters = emu.counters
        store = {j: emu.store.get(j) for j in emu.jobs}
        ends = {j: job.end for j, job in store.items()}
        waited = {j: job.start - job.created > 0.05 for j, job in store.items()}
        last_end = max(e for e in ends.values() if e is not None)
    late = [t - ends[job_id] for job_id, t in done]
    late_queued = [t - ends[job_id] for job_id, t in done if waited[job_id]]
    late_direct = [t - ends[job_id] for job_id, t in done if not waited[job_id]]
    return {
        "seconds": t1 - t0,
        "requests_per_job": (counters["create"] + counters["poll"]) / plan["jobs"],
        "polls_per_job": counters["poll"] / plan["jobs"],
        "noticed_after_last_finish": t1 - last_end,
        "last_finish": last_end - t0,
        "per_job_late_median": median(late),
        "per_job_late_max": max(late),
        "late_queued_median": median(late_queued),
        "late_direct_median": median(late_direct),
    }


def run(quick: bool = False) -> dict[str, Any]:
    plan = _plan(quick)
    bound = math.ceil(plan["jobs"] / plan["concurrency"]) * plan["job_seconds"]
    samples = alternate(
        {
            "sora_nb": lambda r: _one("sora_nb", plan, seed=100 + r),
            "openai": lambda r: _one("openai", plan, seed=200 + r),
        },
        plan["rounds"],
    )
    s = median([x["seconds"] for x in samples["sora_nb"]])
    o = median([x["seconds"] for x in samples["openai"]])
    s_req = median([x["requests_per_job"] for x in samples["sora_nb"]])
    o_req = median([x["requests_per_job"] for x in samples["openai"]])
    s_late = median([x["noticed_after_last_finish"] for x in samples["sora_nb"]])
    o_late = median([x["noticed_after_last_finish"] for x in samples["openai"]])
    s_job = median([x["per_job_late_median"] for x in samples["sora_nb"]])
    o_job = median([x["per_job_late_median"] for x in samples["openai"]])
    s_q = median([x["late_queued_median"] for x in samples["sora_nb"]])
    o_q = median([x["late_queued_median"] for x in samples["openai"]])
    s_d = median([x["late_direct_median"] for x in samples["sora_nb"]])
    o_d = median([x["late_direct_median"] for x in samples["openai"]])
    label = (
        f"{plan['jobs']} jobs, {plan['concurrency']} at once, {plan['job_seconds']:g} s each "
        f"(lower bound {fmt_seconds(bound)})"
    )
    rows = [
        row(
            f"Wall time, {label}",
            fmt_seconds(s),
            f"openai AsyncOpenAI: {fmt_seconds(o)}",
            ratio(s, o),
        ),
        row(
            "Wall time / lower bound", f"{s / bound:.3f}x", f"openai: {o / bound:.3f}x", ratio(s, o)
        ),
        row(
            "Requests per job (create + status)",
            f"{s_req:.2f}",
            f"openai: {o_req:.2f}",
            ratio(s_req, o_req),
        ),
        row(
            "Last job noticed after it finished on the server",
            fmt_seconds(s_late),
            f"openai: {fmt_seconds(o_late)}",
            ratio(s_late, o_late),
        ),
        row(
            "Each job noticed after it finished on the server (median over jobs)",
            fmt_seconds(s_job),
            f"openai: {fmt_seconds(o_job)}",
            ratio(s_job, o_job),
        ),
        row(
            "… jobs that started at once (first wave)",
            fmt_seconds(s_d),
            f"openai: {fmt_seconds(o_d)}",
            ratio(s_d, o_d),
        ),
        row(
            "… jobs that waited in the queue first",
            fmt_seconds(s_q),
            f"openai: {fmt_seconds(o_q)}",
            ratio(s_q, o_q),
        ),
    ]
    goals = [
        goal("sora_nb within 1.10x of the lower bound", f"{s / bound:.3f}x", s / bound <= 1.10),
    ]
    return {
        "rows": rows,
        "goals": goals,
        "notes": [],
        "params": {**plan, "lower_bound": bound},
        "raw": samples,
    }


def explain(result: dict[str, Any]) -> list[str]:
    if all(g["met"] for g in result["goals"]):
        return []
    p = result["params"]
    runs = result["raw"]["sora_nb"]
    last = median([x["last_finish"] for x in runs])
    late = median([x["noticed_after_last_finish"] for x in runs])
    queued = median([x["late_queued_median"] for x in runs])
    direct = median([x["late_direct_median"] for x in runs])
    return [
        f"The server finished the last job {fmt_seconds(last)} after the first create (lower "
        f"bound {fmt_seconds(p['lower_bound'])}); sora_nb noticed it {fmt_seconds(late)} later. "
        f"Jobs that started at once were noticed {fmt_seconds(direct)} after they finished "
        f"(median), jobs that first waited in the queue {fmt_seconds(queued)}. The cause is in "
        "`PollSchedule.observe` (`sora_nb/polling.py`): when the first non-zero progress "
        "arrives, the last 0% point is kept as a trend point unless it is more than "
        "2 × `min_interval` old, i.e. the job is taken to have started at the last poll that saw "
        "it queued. It started somewhere in between, so the rate comes out too slow (up to "
        "gap / time-since-start) and the predicted end, where the next poll waits, too late. "
        "Fix: on the first non-zero progress after zeros, always drop the zero point and look "
        "again after `min_interval` (one more request per job that queued), so the rate comes "
        "from two points of the render itself."
    ]
