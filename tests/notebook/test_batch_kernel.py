"""%%sora_batch in real kernels, against the emulator over loopback: the batch survives a kernel
restart (and a kernel killed mid-batch) without creating any job twice. The emulator counts
the creates; no assertion depends on timing."""

from __future__ import annotations

import re
import time

import pytest

from sora_nb.emulator import serve
from sora_nb.journal import Journal
from tests.conftest import KEY
from tests.kernelutil import kernel, load_sora

pytestmark = pytest.mark.timeout(300)

CELL = """%%sora_batch --name summary
a red kite over the dunes
# a comment, not a prompt
a blue boat at dawn

a green frog on a lily pad
"""
PROMPTS = ["a red kite over the dunes", "a blue boat at dawn", "a green frog on a lily pad"]


@pytest.fixture
def gateway():
    with serve(job_seconds=1.0, concurrency=8, seed=5, api_key=KEY) as emu:
        yield emu


@pytest.fixture
def env(gateway, tmp_path):
    return {
        "SORA_BASE_URL": gateway.base_url,
        "SORA_API_KEY": KEY,
        "SORA_DIALECT": "unified",
        "SORA_NB_DATA_DIR": str(tmp_path / "data"),
    }


def _result(run) -> dict[str, str]:
    (result,) = run.of("execute_result")
    return result["content"]["data"]


def _rows(plain: str) -> dict[str, str]:
    """prompt -> status, from the summary's text table."""
    rows = {}
    for prompt in PROMPTS:
        line = next(x for x in plain.splitlines() if prompt in x)
        rows[prompt] = re.split(r"\s{2,}", line)[2]
    return rows


def test_a_batch_rerun_after_a_kernel_restart_creates_nothing(gateway, env, tmp_path):
    with kernel(tmp_path, env) as k:
        load_sora(k, max_jobs_per_cell=2)
        gateway.reset_counters()
        # Three prompts over a cap of two: refused before any request.
        refused = k.execute(CELL)
        assert refused.status == "error"
        (line,) = [x for x in refused.text.splitlines() if x.strip()]  # one line, no traceback
        assert line.startswith("UsageError: this batch would create 3 paid jobs")
        assert "max_jobs_per_cell" in line
        assert sum(gateway.counters.values()) == 0
        run = k.execute(CELL.replace("--name summary", "--name summary --max-jobs 3"))
        assert run.status == "ok", run.errors
        assert "this batch will create 3 paid jobs (0 already done, 0 resumed)" in run.text
        data = _result(run)
        # The live output started empty, was updated in place, and went back to empty; the
        # summary is one new, deterministic output.
        live = run.of("display_data")
        assert len(live) == 1 and live[0]["content"]["data"]["text/plain"] == ""
        display_id = live[0]["content"]["transient"]["display_id"]
        updates = [
            m["content"]["data"]
            for m in run.of("update_display_data")
            if m["content"]["transient"]["display_id"] == display_id
        ]
        assert updates and any("batch: " in u["text/plain"] for u in updates)
        assert updates[-1]["text/plain"] == "" and updates[-1]["text/html"] == ""
        check = k.execute("print(summary.ok, len(summary.paths))")
    assert check.text.split() == ["True", "3"]
    assert data["text/plain"].startswith("batch of 3 prompts: 3 completed")
    assert set(_rows(data["text/plain"]).values()) == {"completed"}
    assert '<table class="sora-nb-batch">' in data["text/html"]
    assert gateway.counters["create"] == 3
    first_ids = sorted(e.id for e in Journal(tmp_path / "data" / "jobs.sqlite3").entries())
    assert KEY not in data["text/plain"] + data["text/html"] + run.text

    # A new kernel (a restart): the same cell again.
    gateway.reset_counters()
    with kernel(tmp_path, env) as k:
        load_sora(k)
        again = k.execute(CELL)
        assert again.status == "ok", again.errors
        data = _result(again)
    assert "this batch will create 0 paid jobs (3 already done, 0 resumed)" in again.text
    assert data["text/plain"].startswith("batch of 3 prompts: 3 done")
    assert set(_rows(data["text/plain"]).values()) == {"done"}
    assert gateway.counters["create"] == 0
    assert sum(gateway.counters.values()) == 0  # finished items: not even a poll
    assert sorted(e.id for e in Journal(tmp_path / "data" / "jobs.sqlite3").entries()) == first_ids
    for job_id in first_ids:
        assert job_id in data["text/plain"]


def test_a_kernel_killed_mid_batch_is_resumed_after_restart_without_recreating(
    gateway, env, tmp_path
):
    # One job in flight at a time, each rendering for 4 s: the kernel dies while the second job
    # runs, after the first finished and before the third was sent.
    gateway.set(job_seconds=4.0)
    journal = Journal(tmp_path / "data" / "jobs.sqlite3")
    cell = CELL.replace("--name summary", "--parallel 1")
    with kernel(tmp_path, env) as k:
        load_sora(k)
        gateway.reset_counters()
        k.kc.execute(cell)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = journal.entries() if journal.path.exists() else []
            done = [r for r in rows if r.status == "completed" and r.path]
            sent = [r for r in rows if not r.id.startswith("local:") and not r.done]
            if done and sent:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the batch never got to its second job")
        k.kill()
    before = {r.prompt: r.status for r in journal.entries()}
    assert gateway.counters["create"] == 2
    assert before == {PROMPTS[0]: "completed", PROMPTS[1]: before[PROMPTS[1]]}
    assert before[PROMPTS[1]] in ("queued", "in_progress")

    with kernel(tmp_path, env) as k:
        load_sora(k)
        run = k.execute(cell)
        assert run.status == "ok", run.errors
        data = _result(run)
    assert "this batch will create 1 paid job (1 already done, 1 resumed)" in run.text
    assert _rows(data["text/plain"]) == {
        PROMPTS[0]: "done",
        PROMPTS[1]: "completed",
        PROMPTS[2]: "completed",
    }
    assert gateway.counters["create"] == 3  # the job in flight was resumed, not made again
    rows = journal.entries()
    assert len(rows) == 3 and {r.status for r in rows} == {"completed"}
    assert all(r.batch_key for r in rows)


def test_an_interrupted_batch_shows_its_table_and_the_same_cell_resumes_it(gateway, env, tmp_path):
    gateway.set(job_seconds=4.0)
    journal = Journal(tmp_path / "data" / "jobs.sqlite3")
    cell = CELL.replace("--name summary", "--parallel 2")
    with kernel(tmp_path, env) as k:
        load_sora(k)
        gateway.reset_counters()
        msg_id = k.kc.execute(cell)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # interrupted once two jobs are in flight
            rows = journal.entries() if journal.path.exists() else []
            if len([r for r in rows if not r.id.startswith("local:")]) == 2:
                break
            time.sleep(0.1)
        k.km.interrupt_kernel()
        messages = []
        while True:
            msg = k.kc.get_iopub_msg(timeout=60)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
            messages.append(msg)
        k.reply(msg_id)
        text = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
        (result,) = [m for m in messages if m["msg_type"] == "execute_result"]
        plain = result["content"]["data"]["text/plain"]
        assert "Interrupted:" in text and "run the cell again" in text
        assert "interrupted" in plain.splitlines()[0]
        assert _rows(plain) == dict.fromkeys(PROMPTS, "interrupted")
        assert "nothing was sent for it yet" in plain  # the third never left
        assert gateway.counters["create"] == 2
        again = k.execute(cell)
        assert again.status == "ok", again.errors
        data = _result(again)
    assert "this batch will create 1 paid job (0 already done, 2 resumed)" in again.text
    assert set(_rows(data["text/plain"]).values()) == {"completed"}
    assert gateway.counters["create"] == 3
