"""sora_nb.batch against the emulator over loopback: a batch makes each job once, and a second
run (after success, an interrupt, a failure or a lost answer) never makes a job again unless
asked. Counts are the emulator's own; no assertion depends on timing."""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import sora_nb
from sora_nb import batch
from sora_nb.batch import Item
from sora_nb.emulator import Fault
from sora_nb.journal import Journal
from tests.conftest import KEY

pytestmark = pytest.mark.timeout(120)


def items(*prompts: str) -> list[Item]:
    return [Item(p, {}, f"line {i + 1}") for i, p in enumerate(prompts)]


def in_thread(coro_fn):
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro_fn()).result()


def run_batch(emu, journal, prompts, out_dir, *, dialect="unified", cancel_when=None, **kw):
    """Plan and run ``prompts`` with a fresh client (as a new kernel or process would)."""
    plan_options = {k: kw.pop(k) for k in ("retry_failed", "retry_unknown") if k in kw}
    options = {"poll_interval": 0.05, "max_poll_interval": 0.3, **kw}

    async def main():
        async with sora_nb.AsyncClient(
            base_url=emu.base_url, api_key=KEY, dialect=dialect, journal=journal, **options
        ) as client:
            plan = batch.plan(items(*prompts), client, out_dir=out_dir, **plan_options)
            line = plan.line()
            task = None

            def listener(job, event):
                if cancel_when is not None and cancel_when(plan) and task is not None:
                    task.cancel()

            task = asyncio.ensure_future(
                batch.run(plan, client, out_dir=out_dir, parallel=2, listener=listener)
            )
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return plan, line

    return in_thread(main)


@pytest.fixture
def journal(tmp_path):
    return Journal(tmp_path / "jobs.sqlite3")


def test_each_job_is_made_once_and_a_second_run_sends_nothing(emu, journal, tmp_path):
    out = tmp_path / "videos"
    prompts = ["a red kite", "a blue boat", "a green frog", "a red kite", "a grey heron"]
    plan, line = run_batch(emu, journal, prompts, out)
    assert line == (
        "sora_nb: this batch will create 4 paid jobs (0 already done, 0 resumed); "
        "1 repeated item sharing a job"
    )
    assert plan.ok and emu.counters["create"] == 4
    assert [j.status for j in plan.jobs] == ["completed"] * 3 + ["duplicate", "completed"]
    assert plan.jobs[3].job_id == plan.jobs[0].job_id
    for job in plan.jobs:
        assert job.path is not None and Path(job.path).read_bytes()[4:8] == b"ftyp"
        assert Path(job.path).parent == out
    rows = journal.entries()
    assert len(rows) == 4 and all(r.batch_key for r in rows)
    sent = sum(emu.counters.values())

    again, line = run_batch(emu, journal, prompts, out)
    assert line.startswith(
        "sora_nb: this batch will create 0 paid jobs (4 already done, 0 resumed)"
    )
    assert again.ok and [j.status for j in again.jobs] == ["done"] * 3 + ["duplicate", "done"]
    assert [j.path for j in again.jobs] == [j.path for j in plan.jobs]
    assert sum(emu.counters.values()) == sent  # nothing at all was sent


@pytest.mark.slow
def test_an_interrupted_batch_is_resumed_and_nothing_made_twice(emu, journal, tmp_path):
    emu.set(job_seconds=3.0)  # the first two are still rendering when the run is cancelled
    out = tmp_path / "videos"
    prompts = ["one", "two", "three", "four"]

    def two_submitted(plan):
        return sum(1 for j in plan.jobs if j.job_id and not j.job_id.startswith("local:")) >= 2

    first, _ = run_batch(emu, journal, prompts, out, cancel_when=two_submitted)
    assert first.interrupted and emu.counters["create"] == 2
    statuses = [(j.status, bool(j.job_id)) for j in first.jobs]
    assert statuses == [("interrupted", True)] * 2 + [("interrupted", False)] * 2
    assert "nothing was sent" in first.jobs[3].note

    assert all(j.job_id in emu.jobs for j in first.jobs[:2])
    second, line = run_batch(emu, journal, prompts, out)
    assert line == "sora_nb: this batch will create 2 paid jobs (0 already done, 2 resumed)"
    assert second.ok, second.table()
    assert [j.job_id for j in second.jobs[:2]] == [j.job_id for j in first.jobs[:2]]
    assert emu.counters["create"] == 4  # the two interrupted ones were resumed, not made again


def test_a_failed_job_is_made_again_only_when_asked(emu, journal, tmp_path):
    out = tmp_path / "videos"
    prompts = ["a calm sea", "a storm [fail]"]
    first, _ = run_batch(emu, journal, prompts, out)
    assert [j.status for j in first.jobs] == ["completed", "failed"]
    assert "[fail]" in first.jobs[1].error and not first.ok
    second, line = run_batch(emu, journal, prompts, out)
    assert line.endswith("; 1 failed before, not made again")
    assert [j.status for j in second.jobs] == ["done", "failed before"]
    assert emu.counters["create"] == 2
    third, line = run_batch(emu, journal, prompts, out, retry_failed=True)
    assert line.startswith("sora_nb: this batch will create 1 paid job (1 already done")
    assert emu.counters["create"] == 3 and third.jobs[1].status == "failed"


def test_a_lost_answer_is_found_where_the_gateway_lists_jobs(emu, journal, tmp_path):
    # The gateway makes the job and answers after 2.5 s; the client gave up after 1 s. The
    # job may exist (it does): it must not be made again. The openai family lists jobs, so the
    # next run finds it there and resumes it.
    emu.add_fault(Fault(kind="create", action="slow", delay=2.5, times=1))
    out = tmp_path / "videos"
    first, _ = run_batch(emu, journal, ["a lighthouse"], out, dialect="openai", timeout=1.0)
    assert first.jobs[0].status == "unknown" and emu.counters["create"] == 1
    (row,) = journal.entries()
    assert row.id.startswith("local:") and row.batch_key == first.jobs[0].key
    second, line = run_batch(emu, journal, ["a lighthouse"], out, dialect="openai")
    assert line.startswith("sora_nb: this batch will create 0 paid jobs")
    assert "may have reached the gateway" in line
    assert second.ok and second.jobs[0].status == "completed", second.table()
    assert second.jobs[0].job_id in emu.jobs and emu.counters["create"] == 1


def test_a_lost_answer_where_nothing_lists_jobs_is_left_alone_unless_asked(emu, journal, tmp_path):
    emu.add_fault(Fault(kind="create", action="slow", delay=2.5, times=1))
    out = tmp_path / "videos"
    run_batch(emu, journal, ["a lighthouse"], out, timeout=1.0)
    assert emu.counters["create"] == 1
    second, _ = run_batch(emu, journal, ["a lighthouse"], out)
    (job,) = second.jobs
    assert job.status == "unknown" and "%sora_jobs --refresh" in job.note and not second.ok
    assert emu.counters["create"] == 1
    third, _ = run_batch(emu, journal, ["a lighthouse"], out, retry_unknown=True)
    assert third.ok and emu.counters["create"] == 2


def test_a_completed_job_whose_file_is_gone_is_fetched_again_not_made_again(emu, journal, tmp_path):
    out = tmp_path / "videos"
    first, _ = run_batch(emu, journal, ["a kite"], out)
    Path(first.jobs[0].path).unlink()
    second, line = run_batch(emu, journal, ["a kite"], out)
    assert line == "sora_nb: this batch will create 0 paid jobs (0 already done, 1 resumed)"
    assert second.ok and Path(second.jobs[0].path).is_file()
    assert emu.counters["create"] == 1 and emu.counters["cdn"] == 2
