"""dialect="auto" against relays over loopback: the emulator, and a relay that answers as
new-api does for what it lacks. Counted: no create, no chat, nothing billed."""

from __future__ import annotations

import json

import sora_nb
from sora_nb import probing
from tests.conftest import KEY
from tests.hostile import Answer, hostile_relay, once


def test_auto_finds_what_the_emulator_serves_without_a_create(emu, tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_NB_DATA_DIR", str(tmp_path))
    before = dict(emu.counters)
    with sora_nb.Client(base_url=emu.base_url, api_key=KEY, dialect="auto") as client:
        found = client.probe_result
        assert client.dialect == "unified"  # served, and preferred
    assert {"unified", "openai", "chat"} <= set(found.served)
    assert emu.counters["create"] == before["create"] and emu.counters["chat"] == before["chat"]
    assert found.requests == len(found.served) + len(found.missing) + len(found.unsure)
    # Cached per base URL (in memory and on disk): a second client asks nothing.
    probing._MEMORY.clear()
    again = dict(emu.counters)
    with sora_nb.Client(base_url=emu.base_url, api_key=KEY, dialect="auto") as client:
        assert client.dialect == "unified"
    assert dict(emu.counters) == again


def test_auto_on_a_relay_that_serves_only_new_apis_task_routes(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_NB_DATA_DIR", str(tmp_path))
    with hostile_relay() as relay:
        # new-api relay/relay_task.go: a known task route, an unknown task → 400 task_not_exist.
        relay.answer(
            "GET",
            f"/v1/video/generations/{probing.dialects.probe.PROBE_ID}",
            Answer(
                once(
                    json.dumps(
                        {"code": "task_not_exist", "message": "task_not_exist", "data": None}
                    ).encode()
                ),
                status=400,
            ),
        )
        # Everything else gets new-api's 404 "Invalid URL (GET /v1/…)" (tests/hostile.py).
        found = probing.probe(relay.base_url, KEY, fresh=True)
    assert found.served == ("newapi",)
    assert set(found.missing) >= {"unified", "openai", "chat"}
    assert found.best() == "newapi"
