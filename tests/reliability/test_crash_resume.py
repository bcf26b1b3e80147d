"""A kernel killed while four paid jobs are in flight; a new kernel finishes every one of them.

One cell runs ``%%sora_video --background`` (returns at once), the next ``%%sora_video -n 3``
(blocks); the kernel dies while the gateway is still rendering all four. A new kernel's
``%sora_jobs --resume ID`` then finishes each: a video on disk, its journal row completed, and
exactly one create per job on the gateway.
"""

from __future__ import annotations

import re
import time

import pytest

from sora_nb.emulator import serve
from sora_nb.journal import Journal
from tests.conftest import KEY
from tests.kernelutil import kernel
from tests.media import probe

pytestmark = pytest.mark.timeout(240)

JOBS = 4  # one background job and three variants


@pytest.fixture
def gateway():
    with serve(job_seconds=8.0, concurrency=8, seed=31, api_key=KEY, render_scale=0.1) as emu:
        yield emu


def _setup(k) -> None:
    run = k.execute(
        "%load_ext sora_nb\n"
        "%config SoraMagics.poll_interval = 0.2\n"
        "%config SoraMagics.progress = 'html'"
    )
    assert run.status == "ok", run.errors


def test_kernel_killed_with_four_jobs_in_flight_then_all_resumed(gateway, tmp_path):
    env = {
        "SORA_BASE_URL": gateway.base_url,
        "SORA_API_KEY": KEY,
        "SORA_NB_DATA_DIR": str(tmp_path / "data"),
    }
    journal = Journal(tmp_path / "data" / "jobs.sqlite3")
    with kernel(tmp_path, env) as k:
        _setup(k)
        background = k.execute("%%sora_video --background --name bg\na lighthouse at dusk")
        assert background.status == "ok", background.errors
        k.kc.execute("%%sora_video -n 3 --name takes\na fox running through fresh snow")
        deadline = time.monotonic() + 60
        # Rows appear under a local id as each create goes out, and take the gateway's id
        # when it answers: the kernel dies once every job has its id (mid-wait).
        while time.monotonic() < deadline and (
            len(journal.entries()) < JOBS
            or any(e.id.startswith("local:") for e in journal.entries())
        ):
            time.sleep(0.05)
        entries = journal.entries()
        k.kill()  # mid-wait: the blocking cell and the background task die with the kernel
    assert len(entries) == JOBS, entries
    assert all(not e.done for e in entries)
    ids = [e.id for e in entries]
    assert all(gateway.jobs[i].status != "completed" for i in ids)  # still in flight
    assert sorted(e.prompt for e in entries) == [
        "a fox running through fresh snow",
        "a fox running through fresh snow",
        "a fox running through fresh snow",
        "a lighthouse at dusk",
    ]

    with kernel(tmp_path, env) as k:
        _setup(k)
        listed = k.execute("%sora_jobs")
        assert listed.status == "ok", listed.errors
        table = listed.of("execute_result")[0]["content"]["data"]["text/plain"]
        assert all(i in table for i in ids), table
        results = {}
        for job_id in ids:
            run = k.execute(f"%sora_jobs --resume {job_id}", timeout=120)
            assert run.status == "ok", run.errors
            results[job_id] = run.of("execute_result")[0]["content"]["data"]

    paths = set()
    for job_id, data in results.items():
        src = re.search(r'<video src="([^"]+\.mp4)"', data["text/html"])
        assert src, data
        path = tmp_path / src.group(1)
        info = probe(path)
        assert info.codec == "h264" and abs(info.duration - 10) < 0.2
        row = journal.get(job_id)
        assert row.status == "completed" and row.path == str(path.resolve())
        paths.add(path)
    assert len(paths) == JOBS  # four distinct videos
    # Exactly one create per job: the resume only asked about them and downloaded them.
    assert gateway.counters["create"] == JOBS
    assert sorted(gateway.jobs) == sorted(ids)
    assert all(gateway.jobs[i].status == "completed" for i in ids)
    assert len(journal.entries()) == JOBS
