"""The fault campaign: many video jobs at once through the emulator while it misbehaves.

Every job must end completed and downloaded, or failed with the gateway's own reason; no create
may reach the gateway twice; the journal must hold every job; polls per job must stay bounded.
``tests/reliability/test_faults_200.py`` runs it with 200 jobs in CI; the soak is the same code
with bigger numbers, one command from the repository root:

    python -m tests.reliability.soak --jobs 2000

It prints a summary and exits non-zero if any promise was broken. What is injected:

- polls: ``poll_fail_rate`` (20%) of all status queries fail, split evenly over 500, 502, 503,
  429 with ``Retry-After: 1``, 429 without it, a connection reset, and an answer slower than the
  client's timeout (real emulator faults);
- creates: ``connect_fail_rate`` (5%) of create requests fail to connect. A listening server
  cannot refuse one connection of many, so this one is made by a transport that wraps the real
  one and raises ``httpx.ConnectError`` for a seeded share of creates (nothing reaches the
  emulator then, as with a refused connection);
- jobs: ``server_fail_rate`` (2%) of jobs are accepted and then fail while rendering, with
  ``FAIL_REASON`` as the gateway's reason (the emulator's ``fail_job`` fault).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx

import sora_nb
from sora_nb.emulator import Fault, serve
from sora_nb.journal import Entry, Journal

CANARY_KEY = "sk-soak-canary-9d3e51a0c2b7"  # the gateway requires it; it must never show
FAIL_REASON = "upstream render failed: GPU worker lost (reliability campaign)"
POLL_FAULTS = ("500", "502", "503", "429 Retry-After", "429 no Retry-After", "reset", "slow")


@dataclass(frozen=True)
class Settings:
    jobs: int = 200
    parallel: int = 40  # jobs in flight at once (an asyncio semaphore)
    job_seconds: float = 1.0  # the emulator's render time per job
    poll_fail_rate: float = 0.20
    connect_fail_rate: float = 0.05
    server_fail_rate: float = 0.02
    timeout: float = 4.0  # the client's timeout for one request (roomy: a create must not time out)
    slow_delay: float = 5.0  # how late a "slow" poll answers: past the timeout
    retry_after: str = "1"
    poll_interval: float = 0.25
    max_poll_interval: float = 2.0
    wait_timeout: float = 300.0
    seed: int = 20240601

    @property
    def failing_jobs(self) -> int:
        return round(self.jobs * self.server_fail_rate)

    @property
    def poll_bound(self) -> int:
        """The most status queries one job may need (see docs/reliability.md).

        With the emulator's progress the schedule needs about ``job_seconds / poll_interval``
        queries at worst (it polls no faster than ``poll_interval`` and stops at completion);
        each query fails with probability ``poll_fail_rate`` and is then repeated, so the
        expected number is that over ``1 - poll_fail_rate``. The bound allows twice that,
        plus ten for a run of back-to-back failures (five in a row has probability 3e-4 at 20%).
        """
        fault_free = self.job_seconds / self.poll_interval + 2
        return int(2 * fault_free / (1 - self.poll_fail_rate)) + 10


@dataclass
class Outcome:
    index: int
    prompt: str
    status: str  # completed | failed | error
    job_id: str | None = None
    path: Path | None = None
    reason: str | None = None
    message: str = ""
    seconds: float = 0.0


class FlakyConnect(httpx.AsyncBaseTransport):
    """The real transport, except that a seeded share of creates fail to connect.

    It also tallies what each status query met, so the report can show the faults happened.
    """

    def __init__(self, rate: float, seed: int) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.rate = rate
        self.rng = random.Random(f"flaky-connect:{seed}")
        self.refused = 0
        self.creates_sent = 0
        self.poll_outcomes: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST" and path.endswith("/video/create"):
            if self.rng.random() < self.rate:
                self.refused += 1
                raise httpx.ConnectError("connection refused (injected)", request=request)
            self.creates_sent += 1
        if not (request.method == "GET" and path.endswith("/video/query")):
            return await self.inner.handle_async_request(request)
        try:
            response = await self.inner.handle_async_request(request)
        except httpx.TimeoutException:
            self.poll_outcomes["slow"] += 1
            raise
        except httpx.TransportError:
            self.poll_outcomes["reset"] += 1
            raise
        code = response.status_code
        if code == 429:
            has_hint = "retry-after" in response.headers
            self.poll_outcomes["429 Retry-After" if has_hint else "429 no Retry-After"] += 1
        else:
            self.poll_outcomes[str(code) if code != 200 else "ok"] += 1
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def poll_faults(settings: Settings) -> list[Fault]:
    """Seven poll faults, each failing ``poll_fail_rate / 7`` of all status queries.

    The emulator tries faults in order and the first that fires wins, so the k-th fault's own
    rate is p / (1 - (k - 1) p) for an overall share of p each.
    """
    hint = {"Retry-After": settings.retry_after}
    kinds = [
        Fault(kind="poll", action="status", status=500),
        Fault(kind="poll", action="status", status=502),
        Fault(kind="poll", action="status", status=503),
        Fault(kind="poll", action="status", status=429, headers=hint),
        Fault(kind="poll", action="status", status=429),
        Fault(kind="poll", action="reset"),
        Fault(kind="poll", action="slow", delay=settings.slow_delay),
    ]
    share = settings.poll_fail_rate / len(kinds)
    for k, fault in enumerate(kinds):
        fault.rate = min(1.0, share / (1 - k * share))
    return kinds


@dataclass
class Report:
    settings: Settings
    base_url: str
    outcomes: list[Outcome]
    counters: dict[str, int]
    server_jobs: dict[str, Any]  # id -> JobInfo
    polls: dict[str, int]  # job id -> status queries that reached the gateway
    journal_rows: list[Entry]
    refused_creates: int
    creates_sent: int
    poll_outcomes: Counter[str]
    elapsed: float
    cdn_auth_headers: int
    extra: dict[str, Any] = field(default_factory=dict)

    def of(self, status: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    def poll_stats(self) -> dict[str, float]:
        counts = sorted(self.polls.get(o.job_id, 0) for o in self.outcomes if o.job_id)
        if not counts:
            return {"mean": 0, "p50": 0, "p95": 0, "max": 0, "min": 0}
        return {
            "min": counts[0],
            "mean": statistics.fmean(counts),
            "p50": counts[len(counts) // 2],
            "p95": counts[min(len(counts) - 1, int(len(counts) * 0.95))],
            "max": counts[-1],
        }

    def problems(self) -> list[str]:
        """Every broken promise, one line each; empty when sora_nb kept them all."""
        s, found = self.settings, []
        for o in self.of("error"):
            found.append(f"job {o.index} ({o.job_id}) ended with {o.message}")
        for o in self.of("failed"):
            if o.reason != FAIL_REASON or FAIL_REASON not in o.message:
                found.append(f"job {o.index} failed without the gateway's reason: {o.message}")
        for o in self.of("completed"):
            if o.path is None or not o.path.is_file() or o.path.read_bytes()[4:8] != b"ftyp":
                found.append(f"job {o.index} completed but its video is not on disk: {o.path}")
        if len(self.outcomes) != s.jobs:
            found.append(f"{len(self.outcomes)} outcomes for {s.jobs} jobs")
        if self.counters.get("create", 0) != s.jobs or len(self.server_jobs) != s.jobs:
            found.append(
                f"{self.counters.get('create', 0)} creates reached the gateway and it holds "
                f"{len(self.server_jobs)} jobs, for {s.jobs} jobs asked"
            )
        prompts = Counter(info.prompt for info in self.server_jobs.values())
        twice = [p for p, n in prompts.items() if n > 1]
        if twice:
            found.append(f"{len(twice)} prompts were created more than once, e.g. {twice[0]!r}")
        ids = {o.job_id for o in self.outcomes if o.job_id}
        if ids != set(self.server_jobs):
            found.append(f"{len(set(self.server_jobs) - ids)} jobs on the gateway nobody knows of")
        rows = {e.id: e for e in self.journal_rows}
        if len(self.journal_rows) != s.jobs or set(rows) != set(self.server_jobs):
            found.append(f"the journal holds {len(self.journal_rows)} rows for {s.jobs} jobs")
        for o in self.outcomes:
            row = rows.get(o.job_id or "")
            if row is None:
                continue
            if row.status != o.status:
                found.append(f"journal says {row.status} for job {o.job_id}, which {o.status}")
            elif o.status == "completed" and (row.path is None or Path(row.path) != o.path):
                found.append(f"journal row of {o.job_id} has path {row.path}, not {o.path}")
            elif o.status == "failed" and row.error != FAIL_REASON:
                found.append(f"journal row of {o.job_id} has error {row.error!r}")
            info = self.server_jobs.get(o.job_id or "")
            if info is not None and info.status != o.status:
                found.append(f"gateway says {info.status} for {o.job_id}, sora_nb said {o.status}")
        failed_on_server = sum(1 for i in self.server_jobs.values() if i.status == "failed")
        if failed_on_server != s.failing_jobs:
            found.append(f"{failed_on_server} jobs failed on the gateway, {s.failing_jobs} planned")
        worst = max(self.polls.values(), default=0)
        if worst > s.poll_bound:
            found.append(f"a job needed {worst} status queries; the bound is {s.poll_bound}")
        if self.cdn_auth_headers:
            found.append(f"{self.cdn_auth_headers} CDN requests carried an Authorization header")
        return found

    def faults_seen(self) -> dict[str, int]:
        seen = {kind: self.poll_outcomes.get(kind, 0) for kind in POLL_FAULTS}
        seen["create connect refused"] = self.refused_creates
        seen["jobs failed on the gateway"] = sum(
            1 for i in self.server_jobs.values() if i.status == "failed"
        )
        return seen

    def summary(self) -> str:
        s, stats = self.settings, self.poll_stats()
        polls_total = sum(self.poll_outcomes.values())
        failed_polls = polls_total - self.poll_outcomes.get("ok", 0)
        lines = [
            f"sora_nb fault campaign: {s.jobs} jobs, {s.parallel} at once, "
            f"{s.job_seconds:g} s renders, seed {s.seed}",
            f"  finished in {self.elapsed:.1f} s",
            f"  completed and downloaded  {len(self.of('completed'))}",
            f"  failed with the reason    {len(self.of('failed'))} (planned {s.failing_jobs})",
            f"  other errors              {len(self.of('error'))}",
            f"  creates at the gateway    {self.counters.get('create', 0)} "
            f"(jobs there: {len(self.server_jobs)}; refused connects retried: "
            f"{self.refused_creates})",
            f"  journal rows              {len(self.journal_rows)}",
            f"  status queries            {polls_total}, of which failed {failed_polls} "
            f"({100 * failed_polls / max(1, polls_total):.1f}%)",
            "    " + ", ".join(f"{k}: {self.poll_outcomes.get(k, 0)}" for k in POLL_FAULTS),
            f"  queries per job           mean {stats['mean']:.1f}, median {stats['p50']}, "
            f"p95 {stats['p95']}, max {stats['max']} (bound {s.poll_bound})",
            f"  CDN requests with a key   {self.cdn_auth_headers}",
        ]
        problems = self.problems()
        lines.append("  promises kept" if not problems else f"  BROKEN PROMISES ({len(problems)}):")
        lines += [f"    - {p}" for p in problems[:40]]
        return "\n".join(lines)


async def _one(
    index: int,
    client: sora_nb.AsyncClient,
    out_dir: Path,
    settings: Settings,
    gate: asyncio.Semaphore,
) -> Outcome:
    prompt = f"reliability job {index:05d}: a paper boat on a pond, take {index}"
    params = {"orientation": "landscape" if index % 2 else "portrait", "size": "small"}
    outcome = Outcome(index, prompt, "error")
    seen: list[sora_nb.Job] = []
    async with gate:
        started = time.monotonic()
        try:
            # The lifecycle the magics use: the client's journal records the job on its
            # create answer, follows it, and keeps the file's path.
            prepared = client.prepare(
                prompt, model="sora-2", duration=10, timeout=settings.wait_timeout, **params
            )
            run = await client.run_video(
                prepared,
                out_dir=out_dir,
                on_update=seen.append,
            )
            outcome.status, outcome.path = "completed", run.path.resolve()
            seen.append(run.job)
        except sora_nb.GenerationFailed as exc:
            seen.append(exc.job)
            outcome.status, outcome.reason, outcome.message = "failed", exc.reason, str(exc)
        except Exception as exc:  # every other ending is a broken promise, kept for the report
            outcome.message = f"{type(exc).__name__}: {exc}"
        ids = [job.id for job in seen if job.id]
        outcome.job_id = ids[-1] if ids else None
        outcome.seconds = time.monotonic() - started
    return outcome


async def campaign(settings: Settings, workdir: Path) -> Report:
    """Run ``settings.jobs`` jobs against a fresh, faulty emulator; report what happened."""
    faults = poll_faults(settings)
    if settings.failing_jobs:
        faults.append(
            Fault(
                kind="create", action="fail_job", message=FAIL_REASON, times=settings.failing_jobs
            )
        )
    journal = Journal(workdir / "jobs.sqlite3")
    transport = FlakyConnect(settings.connect_fail_rate, settings.seed)
    with serve(
        job_seconds=settings.job_seconds,
        concurrency=settings.parallel,
        seed=settings.seed,
        api_key=CANARY_KEY,
        faults=faults,
        render_scale=0.1,
        render_fps=8,
    ) as emu:
        gate = asyncio.Semaphore(settings.parallel)
        started = time.monotonic()
        async with sora_nb.AsyncClient(
            base_url=emu.base_url,
            api_key=CANARY_KEY,
            transport=transport,
            timeout=settings.timeout,
            poll_interval=settings.poll_interval,
            max_poll_interval=settings.max_poll_interval,
            journal=journal,
        ) as client:
            outcomes = await asyncio.gather(
                *(_one(i, client, workdir / "videos", settings, gate) for i in range(settings.jobs))
            )
        elapsed = time.monotonic() - started
        polls: Counter[str] = Counter()
        for record in emu.requests:
            if record.kind == "poll":
                polls[parse_qs(record.query).get("id", [""])[0]] += 1
        return Report(
            settings=settings,
            base_url=emu.base_url,
            outcomes=list(outcomes),
            counters=emu.counters,
            server_jobs={job_id: emu.jobs[job_id] for job_id in emu.jobs},
            polls=dict(polls),
            journal_rows=journal.entries(limit=settings.jobs * 2 + 10),
            refused_creates=transport.refused,
            creates_sent=transport.creates_sent,
            poll_outcomes=transport.poll_outcomes,
            elapsed=elapsed,
            cdn_auth_headers=sum("authorization" in r["headers"] for r in emu.cdn_requests),
        )


def main(argv: list[str] | None = None) -> int:
    defaults = Settings()
    parser = argparse.ArgumentParser(
        prog="python -m tests.reliability.soak", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--jobs", type=int, default=2000, help="Jobs in all (2000).")
    parser.add_argument("--parallel", type=int, default=100, help="Jobs in flight at once (100).")
    parser.add_argument(
        "--job-seconds", type=float, default=3.0, help="The emulator's render time per job (3)."
    )
    parser.add_argument(
        "--poll-fail-rate",
        type=float,
        default=defaults.poll_fail_rate,
        help="Share of status queries that fail (0.2).",
    )
    parser.add_argument(
        "--connect-fail-rate",
        type=float,
        default=defaults.connect_fail_rate,
        help="Share of creates that fail to connect (0.05).",
    )
    parser.add_argument(
        "--server-fail-rate",
        type=float,
        default=defaults.server_fail_rate,
        help="Share of jobs that fail on the gateway (0.02).",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="Emulator and fault seed.")
    parser.add_argument("--keep", action="store_true", help="Keep the videos and the journal.")
    args = parser.parse_args(argv)
    settings = Settings(
        jobs=args.jobs,
        parallel=args.parallel,
        job_seconds=args.job_seconds,
        poll_fail_rate=args.poll_fail_rate,
        connect_fail_rate=args.connect_fail_rate,
        server_fail_rate=args.server_fail_rate,
        seed=args.seed,
    )
    folder = Path(tempfile.mkdtemp(prefix="sora_nb-soak-"))
    try:
        report = asyncio.run(campaign(settings, folder))
        print(report.summary())
    finally:
        if args.keep:
            print(f"  videos and journal kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 1 if report.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
