"""The emulator's per-key rate limit (a token bucket), over a real socket with raw httpx."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from sora_nb.budget import parse_duration
from sora_nb.emulator import Emulator, Fault, serve
from tests.emulator_fixtures import unified_body

pytestmark = pytest.mark.timeout(60)

RATE, BURST = 0.5, 3  # a token every 2 s: a quick burst of requests runs dry at once


@contextmanager
def gateway(**options: Any) -> Iterator[tuple[Emulator, httpx.Client]]:
    with serve(job_seconds=0.1, **options) as emu, httpx.Client(base_url=emu.base_url) as client:
        yield emu, client


def burst(
    client: httpx.Client, n: int, path: str = "/models"
) -> tuple[list[httpx.Response], float]:
    start = time.monotonic()
    answers = [client.get(path) for _ in range(n)]
    return answers, time.monotonic() - start


def test_quick_requests_get_429_with_retry_after_and_are_counted() -> None:
    with gateway(seed=5, rate_limit=(RATE, BURST)) as (emu, client):
        answers, took = burst(client, 10)
        codes = [r.status_code for r in answers]
        assert codes[:BURST] == [200] * BURST  # the bucket starts full
        allowed = codes.count(200)
        assert allowed <= BURST + took * RATE + 1  # refilled at RATE, no faster
        limited = [r for r in answers if r.status_code == 429]
        assert len(limited) == 10 - allowed >= 1
        for r in limited:
            error = r.json()["error"]
            assert error["type"] == "rate_limit_error"
            assert error["code"] == "rate_limit_exceeded"
            assert "0.5 requests per second" in error["message"]
            assert 1 <= int(r.headers["retry-after"]) <= 2  # whole seconds to the next token
        # Counted per kind: every request, and the 429s among them.
        assert emu.counters["other"] == 10
        assert emu.counters_429["other"] == len(limited)
        assert sum(emu.counters_429.values()) == len(limited)

        # A refused create is not carried out: no job exists for it.
        r = client.post("/video/create", json=unified_body())
        assert r.status_code == 429
        assert len(emu.jobs) == 0
        assert emu.counters_429["create"] == 1

        # After the wait it names, the key may send again.
        time.sleep(int(r.headers["retry-after"]))
        assert client.post("/video/create", json=unified_body()).status_code == 200
        assert len(emu.jobs) == 1

        emu.reset_counters()
        assert sum(emu.counters_429.values()) == 0


def test_429_without_retry_after_when_the_relay_sends_none() -> None:
    with gateway(rate_limit=(RATE, 1), rate_limit_retry_after=False) as (_, client):
        first, second = burst(client, 2)[0]
        assert first.status_code == 200
        assert second.status_code == 429
        assert "retry-after" not in second.headers
        assert second.json()["error"]["type"] == "rate_limit_error"


def test_each_key_has_its_own_bucket_and_files_are_not_limited() -> None:
    with serve(job_seconds=0.05, rate_limit=(RATE, 2)) as emu:
        a = httpx.Client(base_url=emu.base_url, timeout=10, headers={"Authorization": "Bearer a"})
        b = httpx.Client(base_url=emu.base_url, timeout=10, headers={"Authorization": "Bearer b"})
        with a, b:
            job_id = a.post("/video/create", json=unified_body()).json()["id"]
            assert a.get("/models").status_code == 200
            assert a.get("/models").status_code == 429  # key a ran dry
            deadline = time.monotonic() + 10
            while emu.jobs[job_id].status != "completed":
                assert time.monotonic() < deadline
                time.sleep(0.02)
            url = b.get("/video/query", params={"id": job_id}).json()["video_url"]
            assert b.get("/models").status_code == 200  # key b has its own bucket
            assert b.get("/models").status_code == 429
            # The CDN is another origin: no key, no limit.
            assert [httpx.get(url).status_code for _ in range(4)] == [200] * 4

            emu.set(rate_limit=None)
            assert [a.get("/models").status_code for _ in range(5)] == [200] * 5
            emu.set(rate_limit=(RATE, 1))  # a new limit starts with full buckets
            assert [a.get("/models").status_code for _ in range(2)] == [200, 429]


def test_429_faults_count_too_and_auth_comes_first() -> None:
    with serve(job_seconds=0.05, api_key="sk-good", rate_limit=(RATE, 1)) as emu:
        good = httpx.Client(base_url=emu.base_url, timeout=10, headers={"Authorization": "sk-good"})
        with good:
            # Rejected keys get 401 and spend nothing from the bucket of the real key.
            bad = httpx.get(f"{emu.base_url}/models", headers={"Authorization": "Bearer nope"})
            assert bad.status_code == 401
            emu.add_fault(Fault(kind="other", action="status", status=429, times=1))
            assert good.get("/models").status_code == 429  # the fault (the token is spent)
            assert good.get("/models").status_code == 429  # the bucket
            assert emu.counters_429["other"] == 2
            assert emu.counters["other"] == 3


def test_openai_rate_limit_headers_on_every_answer_when_asked() -> None:
    with gateway(rate_limit=(RATE, BURST), rate_limit_headers=True) as (_, client):
        answers, _ = burst(client, BURST + 1)
        remaining = [int(r.headers["x-ratelimit-remaining-requests"]) for r in answers]
        assert [r.status_code for r in answers] == [200] * BURST + [429]
        assert remaining == [2, 1, 0, 0]
        for r in answers:
            assert r.headers["x-ratelimit-limit-requests"] == str(BURST)
        # Until full again: one token short after the first answer (2 s), three after the last.
        first = parse_duration(answers[0].headers["x-ratelimit-reset-requests"])
        last = parse_duration(answers[-1].headers["x-ratelimit-reset-requests"])
        assert first == pytest.approx(1 / RATE, abs=0.1)
        assert 2 / RATE < last <= BURST / RATE
        assert "retry-after" in answers[-1].headers  # the 429 keeps its own header too


def test_no_rate_limit_headers_by_default() -> None:
    with gateway(rate_limit=(RATE, BURST)) as (_, client):
        answer = client.get("/models")
        assert answer.status_code == 200
        assert not [h for h in answer.headers if "ratelimit" in h]
