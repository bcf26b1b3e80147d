"""Client(journal=…): every job a script submits is journaled before anything waits on it."""

from __future__ import annotations

import pytest

import sora_nb
from sora_nb.journal import Journal
from tests.conftest import maybe


@pytest.mark.slow
def test_jobs_are_journaled_before_waiting_then_followed(emu, run_client, tmp_path):
    journal = Journal(tmp_path / "jobs.sqlite3")
    emu.set(job_seconds=1.0)
    seen_at_first_update = []

    async def scenario(client):
        created = await maybe(client.create_video("a heron", duration=10))
        entry = journal.get(created.id, emu.base_url)
        assert entry is not None and entry.status == "queued"  # before any wait

        def on_update(job):
            # The journal already holds what on_update is told.
            seen_at_first_update.append((journal.get(job.id, emu.base_url).status, job.status))

        done = await maybe(client.wait(created, on_update=on_update))
        path = await maybe(client.download(done, tmp_path / "videos"))
        made = await maybe(client.generate_video("a kite"))
        with pytest.raises(sora_nb.GenerationFailed):
            await maybe(client.generate_video("a storm [fail]"))
        return done, path, made

    done, path, made = run_client(emu, scenario, journal=journal)
    assert done.status == "completed"
    assert seen_at_first_update and all(a == b for a, b in seen_at_first_update)
    rows = {e.prompt: e for e in journal.entries()}
    assert set(rows) == {"a heron", "a kite", "a storm [fail]"}
    assert rows["a heron"].status == "completed" and rows["a heron"].path == str(path.resolve())
    assert rows["a kite"].status == "completed" and rows["a kite"].id == made.id
    assert rows["a storm [fail]"].status == "failed" and rows["a storm [fail]"].error
    assert all(e.base_url == emu.base_url for e in rows.values())
    assert emu.counters["create"] == 3


def test_no_journal_unless_asked(emu, tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_NB_DATA_DIR", str(tmp_path / "data"))
    with sora_nb.Client(base_url=emu.base_url, api_key="sk-test-canary-5b0f9e2c7d41") as client:
        client.create_video("a heron")
        assert client.journal is None
    assert not (tmp_path / "data").exists()


def test_a_locked_journal_does_not_lose_the_job(emu, run_client, tmp_path, capfd):
    # Another program holds the journal locked when the create is answered. The wait goes on,
    # the id is said at once, and the row is written as soon as the lock goes. (The run used to
    # die of sqlite3.OperationalError with the id shown nowhere and recorded nowhere.)
    import sqlite3

    journal = Journal(tmp_path / "jobs.sqlite3", busy_timeout=0.05)
    emu.set(job_seconds=1.0)
    holder = sqlite3.connect(journal.path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    updates = []

    def on_update(job):
        updates.append(job)
        if len(updates) == 2 and holder.in_transaction:
            holder.execute("ROLLBACK")  # the other program lets go mid-wait

    async def scenario(client):
        return await maybe(client.generate_video("a heron at dawn", on_update=on_update))

    try:
        done = run_client(emu, scenario, journal=journal)
    finally:
        holder.close()
    said = capfd.readouterr().err
    assert done.status == "completed"
    assert f"job {done.id} is not recorded there yet" in said
    assert f"job {done.id} is now recorded" in said
    row = journal.get(done.id, emu.base_url)
    assert row is not None and row.status == "completed" and row.prompt == "a heron at dawn"
