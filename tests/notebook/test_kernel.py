"""The magics in a real kernel, asserting on what a front end receives over iopub."""

from __future__ import annotations

import re

import nbformat
import pytest
from nbclient import NotebookClient

from sora_nb.emulator import serve
from sora_nb.journal import Journal
from tests.conftest import KEY
from tests.kernelutil import kernel, load_sora
from tests.media import probe

pytestmark = pytest.mark.timeout(240)

# A bound on display messages for a 5,000-chunk chat stream: the view sends the first text at
# once, then only when the text grew by 10% (and at least 0.1 s passed) or 2 s passed, so the
# count grows with log(length) + duration/2 s, not with the number of chunks.
CHAT_UPDATE_BOUND = 120


@pytest.fixture
def gateway():
    with serve(job_seconds=2.0, concurrency=8, seed=11, api_key=KEY) as emu:
        yield emu


@pytest.fixture
def env(gateway, tmp_path):
    return {
        "SORA_BASE_URL": gateway.base_url,
        "SORA_API_KEY": KEY,
        "SORA_NB_DATA_DIR": str(tmp_path / "data"),
    }


def test_chat_stream_of_5000_chunks_sends_a_bounded_number_of_updates(gateway, env, tmp_path):
    gateway.set(chat_chunks=5000, chat_chunk_delay=0.0005)
    with kernel(tmp_path, env) as k:
        load_sora(k)
        run = k.execute("%%sora_chat -m gpt-4 --name reply\nTell me a long story about boats.")
        assert run.status == "ok", run.errors
        updates = run.of("display_data", "update_display_data")
        final = run.of("execute_result")
        assert len(final) == 1
        text = final[0]["content"]["data"]["text/plain"]
        check = k.execute(
            "print(len(reply.event.raw and reply.text), reply.text == reply.event.full_text)"
        )
    assert len(updates) <= CHAT_UPDATE_BOUND, len(updates)
    assert "boats" in text and len(text) > 5000
    # The front end did not get the whole text again for every chunk.
    assert run.bytes_to_frontend() < 20 * len(text.encode())
    assert check.text.split()[1] == "True"


def test_background_job_keeps_updating_while_another_cell_runs(gateway, env, tmp_path):
    gateway.set(job_seconds=4.0)
    with kernel(tmp_path, env) as k:
        load_sora(k)
        first = k.execute("%%sora_video --background --name bg\na lighthouse at dusk")
        assert first.status == "ok" and not first.of("execute_result")
        display_id = first.of("display_data")[0]["content"]["transient"]["display_id"]
        seen = []
        second = k.execute(
            "import asyncio\nawait asyncio.sleep(3)\nprint('second cell done')",
            on_message=lambda m: (
                seen.append(m)
                if m["msg_type"] == "update_display_data"
                and m["content"]["transient"]["display_id"] == display_id
                else None
            ),
        )
        assert "second cell done" in second.text
        # While the second cell ran, the first cell's status line kept moving.
        assert len(seen) >= 3
        texts = [m["content"]["data"]["text/plain"] for m in seen]
        assert any("in progress" in t for t in texts)
        later = k.drain(4.0)
        final = [
            m
            for m in later
            if m["msg_type"] == "update_display_data"
            and m["content"]["transient"]["display_id"] == display_id
        ]
        check = k.execute("print(bg.status, bg.path)")
    assert "<video" in final[-1]["content"]["data"]["text/html"]
    assert check.text.startswith("completed videos/")


def test_interrupted_wait_leaves_a_resumable_job(gateway, env, tmp_path):
    gateway.set(job_seconds=6.0)
    with kernel(tmp_path, env) as k:
        load_sora(k)
        run = k.execute("%%sora_video\na slow sunrise", interrupt_after=2.5)
        assert run.status == "ok" and not run.errors  # one line, no traceback
        match = re.search(r"%sora_jobs --resume (\S+)", run.text)
        assert match, run.text
        job_id = match.group(1)
        entry = Journal(tmp_path / "data" / "jobs.sqlite3").get(job_id)
        assert entry is not None and not entry.done
        resumed = k.execute(f"%sora_jobs --resume {job_id}")
        assert resumed.status == "ok", resumed.errors
        html = resumed.of("execute_result")[0]["content"]["data"]["text/html"]
    assert "<video" in html
    assert gateway.counters["create"] == 1


def test_kernel_killed_mid_wait_new_kernel_resumes(gateway, env, tmp_path):
    gateway.set(job_seconds=5.0)
    with kernel(tmp_path, env) as k:
        load_sora(k)
        k.kc.execute("%%sora_video\na kite over the sea")
        journal = Journal(tmp_path / "data" / "jobs.sqlite3")
        import time

        deadline = time.monotonic() + 30
        # The row appears under a local id as the create goes out, and takes the gateway's id
        # when it answers; then the cell waits.
        while time.monotonic() < deadline and (
            not journal.entries() or journal.entries()[0].id.startswith("local:")
        ):
            time.sleep(0.1)
        entry = journal.entries()[0]
        k.kill()  # the kernel dies while the cell waits on the job
    assert not entry.done
    with kernel(tmp_path, env) as k:
        load_sora(k)
        run = k.execute(f"%sora_jobs --resume {entry.id}")
        assert run.status == "ok", run.errors
        data = run.of("execute_result")[0]["content"]["data"]
    assert "<video" in data["text/html"]
    path = tmp_path / re.search(r'src="([^"]+\.mp4)"', data["text/html"]).group(1)
    info = probe(path)
    assert info.codec == "h264" and abs(info.duration - 10) < 0.2
    assert gateway.counters["create"] == 1
    assert Journal(tmp_path / "data" / "jobs.sqlite3").get(entry.id).status == "completed"


def test_headless_notebook_with_no_configuration_has_the_video(tmp_path, monkeypatch):
    for name in ("SORA_BASE_URL", "SORA_API_KEY", "SORA_DIALECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SORA_NB_DATA_DIR", str(tmp_path / "data"))
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext sora_nb"),
        nbformat.v4.new_code_cell("%%sora_video --duration 10\na paper boat on a pond"),
    ]
    NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    load_out = nb.cells[0].outputs
    assert "built-in emulator" in load_out[0]["text"] and len(load_out) == 1
    outputs = nb.cells[1].outputs
    result = [o for o in outputs if o["output_type"] == "execute_result"]
    assert len(result) == 1
    html = result[0]["data"]["text/html"]
    src = re.search(r'<video src="([^"]+)"', html).group(1)
    assert src.startswith("videos/") and src.endswith(".mp4")
    info = probe(tmp_path / src)
    assert info.codec == "h264" and info.pix_fmt == "yuv420p" and info.faststart
    assert abs(info.duration - 10) < 0.2 and info.height > info.width
    # The live status output returned to empty: a fresh run compares equal under nbval.
    live = [o for o in outputs if o["output_type"] == "display_data"]
    assert all(o["data"].get("text/plain", "") == "" for o in live)


def test_a_setting_changed_while_a_background_job_runs_never_touches_it(gateway, env, tmp_path):
    # Before the session kept one client per settings snapshot, this %config closed the shared
    # client under the running job: it died with a RuntimeError, its line froze at "queued"
    # and its journal row stayed "queued".
    gateway.set(job_seconds=3.0)
    with kernel(tmp_path, env) as k:
        load_sora(k)
        first = k.execute("%%sora_video --background --name bg\na lantern on a quiet river")
        assert first.status == "ok", first.errors
        display_id = first.of("display_data")[0]["content"]["transient"]["display_id"]
        changed = k.execute(
            "import asyncio\nawait asyncio.sleep(0.5)\n"
            "%config SoraMagics.poll_interval = 0.5\n"
            "%config SoraMagics.max_poll_interval = 5.0\n"
            "await asyncio.sleep(0.2)"
        )
        assert changed.status == "ok", changed.errors
        later = k.drain(6.0)
        check = k.execute(
            "import sora_nb\nprint(bg.status, bg.id, "
            "[t.exception() for t in sora_nb.magics().background])"
        )
    status, job_id, exceptions = check.text.split(maxsplit=2)
    assert status == "completed" and exceptions.strip() == "[None]", check.text
    final = [
        m["content"]["data"]
        for m in later
        if m["msg_type"] == "update_display_data"
        and m["content"]["transient"]["display_id"] == display_id
    ]
    assert "<video" in final[-1]["text/html"]
    assert Journal(tmp_path / "data" / "jobs.sqlite3").get(job_id).status == "completed"
    assert gateway.counters["create"] == 1


def test_a_video_model_failing_through_chat_is_journaled_failed(gateway, env, tmp_path):
    # Before one lifecycle served chat too, %%sora_chat left this row "in_progress" for ever
    # while %%sora_video --dialect chat recorded the same failure as "failed".
    with kernel(tmp_path, env) as k:
        load_sora(k)
        run = k.execute("%%sora_chat -m sora-2\na storm over the sea [fail]")
        assert run.status == "error"
        (error,) = run.errors
        assert error["ename"] == "SoraCellError" and "failed" in error["evalue"]
        shown = [b.get("text/plain", "") for b in run.bundles("display_data")]
        assert any("[fail]" in t or "失败" in t for t in shown)  # the text stays in the cell
        twin = k.execute("%%sora_video --dialect chat\na storm over the sea [fail]")
        assert twin.status == "error"
    rows = Journal(tmp_path / "data" / "jobs.sqlite3").entries()
    assert len(rows) == 2
    assert {r.status for r in rows} == {"failed"}
    for row in rows:
        assert row.dialect == "chat" and row.error
        assert "[fail]" in row.error or "policy" in row.error or "失败" in row.error, row.error


def test_an_interrupt_while_a_create_is_in_flight_loses_no_paid_job(gateway, env, tmp_path):
    # The gateway makes the job, then takes 4 s to answer. The interrupt comes meanwhile. (It
    # used to print "nothing was submitted", with no journal row, while the job was billed.)
    from sora_nb.emulator import Fault

    gateway.add_fault(Fault(kind="create", action="slow", delay=4.0, times=1))
    journal = Journal(tmp_path / "data" / "jobs.sqlite3")
    with kernel(tmp_path, env) as k:
        load_sora(k, dialect="openai")
        run = k.execute("%%sora_video\na lighthouse in a gale", interrupt_after=1.5)
        assert run.status == "ok" and not run.errors
        assert "nothing was submitted" not in run.text
        assert "may have made (and billed)" in run.text, run.text
        (row,) = journal.entries()
        assert row.id.startswith("local:") and row.status == "submitting"
        assert row.id in run.text and row.prompt == "a lighthouse in a gale"
        k.drain(3.0)  # the gateway finishes answering the abandoned create
        # The family lists jobs: --refresh finds the one the create made and names it.
        refreshed = k.execute("%sora_jobs --refresh")
        assert refreshed.status == "ok", refreshed.errors
        (row,) = journal.entries()
        assert not row.id.startswith("local:") and row.id in gateway.jobs
        resumed = k.execute(f"%sora_jobs --resume {row.id}")
        assert resumed.status == "ok", resumed.errors
    assert gateway.counters["create"] == 1
    assert journal.get(row.id).status == "completed"
