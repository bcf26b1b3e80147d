"""A relay described as data (docs/relays/modelverse.toml), over loopback with both clients: the
requests it sends, the key sent as that relay wants it, the whole lifecycle to a saved file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
