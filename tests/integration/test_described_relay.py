"""A relay described as data (docs/relays/modelverse.toml), over loopback with both clients: the
requests it sends, the key sent as that relay wants it, the whole lifecycle to a saved file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sora_nb
from sora_nb import dialects
from tests.conftest import KEY, maybe
from tests.hostile import Answer, hostile_relay, once

DOCS = Path(__file__).resolve().parents[2] / "docs" / "relays"
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64


@pytest.fixture
def modelverse():
    (family,) = dialects.load_file(DOCS / "modelverse.toml")
    dialects.register(family, replace=True)
    yield family
    dialects.unregister(family.name)


def test_a_described_relay_end_to_end(modelverse, run_client, tmp_path):
    with hostile_relay() as relay:
        relay.answer(
            "POST",
            "/v1/tasks/submit",
            Answer(once(json.dumps({"output": {"task_id": "t-1"}, "request_id": "r"}).encode())),
        )
        done = {
            "output": {
                "task_id": "t-1",
                "task_status": "Success",
                "urls": [f"{relay.origin}/files/t-1.mp4"],
            }
        }
        relay.answer("GET", "/v1/tasks/status", Answer(once(json.dumps(done).encode())))
        relay.answer(
            "GET", "/files/t-1.mp4", Answer(once(MP4), headers={"content-type": "video/mp4"})
        )

        async def scenario(client):
            job = await maybe(
                client.generate_video("a fox", model="openai/sora-2/text-to-video", duration=4)
            )
            return job, await maybe(client.download(job, tmp_path))

        job, path = run_client(relay, scenario, dialect="modelverse")
        sent = {s.path: s.headers for s in relay.served}
    assert job.ok and job.dialect == "modelverse" and path.read_bytes() == MP4
    # The key alone, no "Bearer", as this relay's examples send it.
    assert sent["/v1/tasks/submit"]["authorization"] == KEY
    assert sent["/v1/tasks/status"]["authorization"] == KEY


def test_model_rules_only_advise_on_a_relay_whose_rules_are_unknown(run_client):
    # new-api checks sora-2's sizes itself (relay/channel/task/sora: invalid_size, 400); other
    # relays sell sizes and durations OpenAI does not. So sora_nb sends what was asked with a
    # one-line note, and the relay's own refusal reaches the user as one line.
    refusal = {"code": "invalid_size", "message": "sora-2 size is invalid", "data": None}
    with hostile_relay() as relay:
        relay.answer("POST", "/v1/videos", Answer(once(json.dumps(refusal).encode()), status=400))

        async def scenario(client):
            with (
                pytest.warns(sora_nb.RulesNote, match="sora-2 takes size .* sent as asked"),
                pytest.raises(sora_nb.BadRequestError) as info,
            ):
                await maybe(client.create_video("a fox", size="4096x2160", dialect="openai"))
            return info.value

        error = run_client(relay, scenario)
        assert [s.path for s in relay.served] == ["/v1/videos"]  # it went through
    assert "sora-2 size is invalid" in str(error) and "\n" not in str(error)


def test_model_rules_are_strict_where_they_are_the_gateways_own(emu, run_client):
    # sora_nb registers the built-in emulator as it starts it (builtin.start ->
    # capabilities.register_gateway), as OpenAI's own API is known: there a value outside the
    # rules is refused before anything is sent.
    async def scenario(client):
        with pytest.raises(sora_nb.ValidationError, match="sora-2 takes size"):
            await maybe(client.create_video("a fox", size="4096x2160", dialect="openai"))

    run_client(emu, scenario)
    assert sum(emu.counters.values()) == 0
