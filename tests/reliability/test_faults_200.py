"""200 jobs at once through a faulty emulator: every job ends completed and downloaded, or failed
with the gateway's reason; no create reaches the gateway twice; the journal holds all 200; status
queries per job stay under the stated bound (``Settings.poll_bound``, docs/reliability.md).

The campaign itself lives in ``tests/reliability/soak.py``, which is also the long soak.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.reliability.soak import FAIL_REASON, POLL_FAULTS, Report, Settings, campaign

pytestmark = pytest.mark.timeout(180)

SETTINGS = Settings(jobs=200, parallel=40, job_seconds=1.0)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Report:
    folder = tmp_path_factory.mktemp("faults200")
    # A worker thread: a clean event loop whatever the main thread runs.
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(asyncio.run, campaign(SETTINGS, folder)).result()
    print(result.summary())
    return result


def test_every_promise_is_kept(report):
    assert report.problems() == [], report.summary()


def test_every_job_completed_and_downloaded_or_failed_with_the_reason(report):
    completed, failed = report.of("completed"), report.of("failed")
    assert len(completed) + len(failed) == SETTINGS.jobs, report.summary()
    assert len(failed) == SETTINGS.failing_jobs == 4
    assert all(o.reason == FAIL_REASON and FAIL_REASON in o.message for o in failed)
    for o in completed:
        data = o.path.read_bytes()
        assert data[4:8] == b"ftyp" and len(data) > 1000, o


def test_no_create_reached_the_gateway_twice(report):
    assert report.counters["create"] == SETTINGS.jobs
    assert report.creates_sent == SETTINGS.jobs  # the refused ones never left the client
    assert len(report.server_jobs) == SETTINGS.jobs
    prompts = [info.prompt for info in report.server_jobs.values()]
    assert len(set(prompts)) == SETTINGS.jobs


def test_the_journal_holds_all_200_with_their_ends(report):
    rows = {row.id: row for row in report.journal_rows}
    assert set(rows) == set(report.server_jobs) and len(report.journal_rows) == SETTINGS.jobs
    for o in report.outcomes:
        row = rows[o.job_id]
        assert row.status == o.status and row.base_url == report.base_url
        if o.status == "completed":
            assert row.path == str(o.path)
        else:
            assert row.error == FAIL_REASON


def test_status_queries_per_job_stay_bounded(report):
    stats = report.poll_stats()
    assert stats["min"] >= 1
    assert stats["max"] <= SETTINGS.poll_bound, report.summary()


def test_the_faults_really_happened(report):
    seen = report.faults_seen()
    assert all(seen[kind] > 0 for kind in POLL_FAULTS), seen
    assert seen["create connect refused"] > 0, seen
    queries = sum(report.poll_outcomes.values())
    failed = queries - report.poll_outcomes["ok"]
    assert 0.10 <= failed / queries <= 0.30, (failed, queries)
    assert report.cdn_auth_headers == 0
