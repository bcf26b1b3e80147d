"""The request budget of a gateway and key, over a real socket: many jobs at once against a
rate-limited relay, one budget shared by every client of a gateway and key, a create whose turn
comes too late, and waits sharing list requests. Counts, never times."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import sora_nb
from sora_nb.emulator import Fault, serve
from tests.conftest import KEY

pytestmark = pytest.mark.timeout(120)

OPTIONS: dict[str, Any] = {"api_key": KEY, "poll_interval": 0.2, "max_poll_interval": 1.0}


def run(coro: Any) -> Any:
    with ThreadPoolExecutor(1) as pool:  # a clean event loop, whatever the caller runs
        return pool.submit(asyncio.run, coro).result()


async def gather_videos(base_url: str, n: int, out_dir: Any = None, **kw: Any) -> list[Any]:
    async with sora_nb.AsyncClient(base_url=base_url, dialect="openai", **OPTIONS) as client:
        prepared = [client.prepare(f"job {i}", model="sora-2", **kw) for i in range(n)]
        return await asyncio.gather(*(client.run_video(p, out_dir=out_dir) for p in prepared))


@pytest.mark.slow
def test_many_jobs_at_once_wait_their_turn_and_every_one_is_made_once(tmp_path):
    jobs = 12
    with serve(
        job_seconds=0.5,
        concurrency=jobs,
        seed=11,
        api_key=KEY,
        rate_limit=(2, 2),
        rate_limit_retry_after=False,  # as new-api: a bare 429, nothing said about when
    ) as relay:
        outcomes = run(gather_videos(relay.base_url, jobs, tmp_path))
        counters, limited = relay.counters, relay.counters_429
        made = len(relay.jobs)
    assert all(o.job.status == "completed" and o.path.exists() for o in outcomes)
    assert made == jobs  # no create was made twice
    assert len({o.job.id for o in outcomes}) == jobs
    assert counters["create"] - limited["create"] == jobs
    requests, refused = sum(counters.values()), sum(limited.values())
    # Without the budget nearly every create of the burst would be refused; with it, the few
    # 429s are the ones that taught it the limit.
    assert refused <= 6, (counters, limited)
    assert refused < requests / 4


@pytest.mark.slow
def test_a_relay_that_sends_rate_limit_headers_sets_the_pace_before_any_429(tmp_path):
    # OpenAI's x-ratelimit-*-requests on every answer (a relay forwarding OpenAI's own), no
    # Retry-After: the pace comes from the first answer's figures, not from refusals.
    jobs = 12
    with serve(
        job_seconds=0.5,
        concurrency=jobs,
        seed=14,
        api_key=KEY,
        rate_limit=(2, 2),
        rate_limit_retry_after=False,
        rate_limit_headers=True,
    ) as relay:

        async def main() -> tuple[list[Any], dict[str, Any]]:
            async with sora_nb.AsyncClient(
                base_url=relay.base_url, dialect="openai", **OPTIONS
            ) as client:
                prepared = [client.prepare(f"job {i}", model="sora-2") for i in range(jobs)]
                done = await asyncio.gather(
                    *(client.run_video(p, out_dir=tmp_path) for p in prepared)
                )
                return done, client.budget.snapshot()

        outcomes, seen = run(main())
        limited, made = relay.counters_429, len(relay.jobs)
    assert all(o.path.exists() for o in outcomes) and made == jobs
    assert seen["learned"] and 1.5 <= seen["rate"] <= 4.0  # 2 a second, read from the headers
    # Without the headers the same burst needs a few 429s to find the limit (up to 6 above).
    assert sum(limited.values()) <= 2, limited


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the openai package's Sora notice
def test_without_a_budget_the_same_burst_mostly_bounces():
    """What the budget is for: the same burst through plain retries (the openai package)."""
    openai = pytest.importorskip("openai")
    jobs = 12

    async def burst(base_url: str) -> list[Any]:
        async with openai.AsyncOpenAI(base_url=base_url, api_key=KEY) as client:
            return await asyncio.gather(
                *(
                    client.videos.create(prompt=f"job {i}", model="sora-2", seconds="4")
                    for i in range(jobs)
                ),
                return_exceptions=True,
            )

    with serve(
        job_seconds=0.5, seed=11, api_key=KEY, rate_limit=(2, 2), rate_limit_retry_after=False
    ) as relay:
        results = run(burst(relay.base_url))
        refused = relay.counters_429["create"]
    failed = [r for r in results if isinstance(r, openai.RateLimitError)]
    assert failed and refused > jobs  # most creates never made it, after many 429s


def test_every_client_of_a_gateway_and_key_shares_one_budget(emu):
    async def main():
        with (
            sora_nb.Client(base_url=emu.base_url, api_key=KEY) as sync,
            sora_nb.Client(base_url=emu.base_url, api_key=KEY + "-2") as other_key,
        ):
            async with sora_nb.AsyncClient(base_url=emu.base_url + "/", api_key=KEY) as asyn:
                assert sync.budget is asyn.budget
                assert other_key.budget is not sync.budget
                emu.add_fault(Fault(kind="list", action="status", status=429, times=1))
                assert sync.list_videos() == []  # refused once, then sent again on its turn
                # What the sync client learned paces the async one too.
                assert asyn.budget.learned and asyn.budget.counts["limited"] == 1
                assert not other_key.budget.learned
                assert await asyn.list_videos() == []

    run(main())
    assert emu.counters["list"] == 3


def test_a_create_whose_turn_comes_after_its_timeout_sends_nothing(emu, run_client):
    # The gateway asks every request of this key to wait two minutes (longer than the client
    # waits out without a word): the list raises at once, and the budget holds everyone back.
    emu.add_fault(
        Fault(kind="list", action="status", status=429, headers={"Retry-After": "120"}, times=1)
    )

    async def scenario(client):
        with pytest.raises(sora_nb.RateLimitError):
            await maybe_(client.list_videos())
        with pytest.raises(sora_nb.TurnTimeout) as info:
            await maybe_(client.generate_video("a kite", timeout=5))
        return info.value

    error = run_client(emu, scenario, dialect="openai")
    assert "nothing was sent" in str(error) and "creating the video job" in str(error)
    assert emu.counters["create"] == 0 and len(emu.jobs) == 0
    assert KEY not in str(error)


async def maybe_(value: Any) -> Any:
    return await value if asyncio.iscoroutine(value) else value


def test_a_wait_whose_poll_turn_comes_too_late_times_out_as_a_wait(emu, run_client):
    async def scenario(client):
        job = await maybe_(client.create_video("a kite", model="sora-2"))
        client.budget.answered(None, time.monotonic(), {"Retry-After": "60"}, limited=True)
        with pytest.raises(sora_nb.PollTimeout) as info:
            await maybe_(client.wait(job, timeout=3))
        return info.value

    error = run_client(emu, scenario, dialect="openai")
    assert error.job_id and "rate limit" in str(error)


def test_many_waits_share_list_requests_and_one_wait_never_lists():
    with serve(job_seconds=1.0, concurrency=8, seed=12, api_key=KEY) as relay:
        run(gather_videos(relay.base_url, 1))
        alone = dict(relay.counters)
        relay.reset_counters()
        run(gather_videos(relay.base_url, 8))
        together = dict(relay.counters)
    assert alone["list"] == 0 and alone["poll"] >= 1  # a single wait polls its own job
    assert together["list"] >= 1
    # Eight waits cost fewer status requests than eight waits alone would.
    assert together["poll"] + together["list"] < 8 * alone["poll"]


def test_waits_poll_on_their_own_where_the_relay_has_no_list_route():
    # new-api's /v1/videos has no GET list (router/video-router.go): the list answers 404 once,
    # and the board stops asking.
    with serve(job_seconds=0.5, seed=13, api_key=KEY, videos_flavor="newapi") as relay:

        async def main():
            async with sora_nb.AsyncClient(base_url=relay.base_url, **OPTIONS) as client:
                return await asyncio.gather(
                    *(
                        client.generate_video(f"job {i}", model="kling-v1", dialect="openai")
                        for i in range(4)
                    )
                )

        jobs = run(main())
        counters = relay.counters
    assert all(job.status == "completed" for job in jobs)
    assert counters["list"] <= 1 and counters["poll"] >= 4
