"""The client against the emulator speaking real relays' families, with both clients: new-api's
task routes, new-api's /v1/videos for non-Sora models, a Sora bridge's chat, an empty balance
as new-api sends it, and dialect="auto" on single-family relays (counted: nothing created)."""

from __future__ import annotations

import pytest

import sora_nb
from sora_nb import probing
from sora_nb.emulator import Fault, serve
from tests.conftest import KEY, maybe
from tests.media import probe as probe_media


def test_newapi_task_family_end_to_end(emu, run_client, tmp_path):
    async def scenario(client):
        seen = []
        job = await maybe(
            client.generate_video(
                "a heron at dawn", model="kling-v1", duration=5, on_update=seen.append
            )
        )
        path = await maybe(client.download(job, tmp_path))
        return job, path, seen

    job, path, seen = run_client(emu, scenario, dialect="newapi")
    assert job.ok and job.dialect == "newapi" and job.id.startswith("task_")
    assert job.video_url and probe_media(path).codec == "h264"
    assert any(j.status == "in_progress" for j in seen)  # "30%"-style progress was read
    assert emu.counters["create"] == 1


def test_newapi_sora_task_downloads_through_the_content_proxy(emu, run_client, tmp_path):
    async def scenario(client):
        job = await maybe(
            client.generate_video("a heron", model="sora-2", duration=4, size="720x1280")
        )
        return job, await maybe(client.download(job, tmp_path))

    job, path = run_client(emu, scenario, dialect="newapi")
    assert job.video_url.endswith(f"/v1/videos/{job.id}/content")
    assert probe_media(path).codec == "h264"


def test_newapi_videos_for_a_non_sora_model_link_in_metadata(run_client, tmp_path):
    with serve(job_seconds=0.3, seed=3, api_key=KEY, videos_flavor="newapi") as relay:

        async def scenario(client):
            job = await maybe(client.generate_video("a kite", model="kling-v1", dialect="openai"))
            return job, await maybe(client.download(job, tmp_path))

        job, path = run_client(relay, scenario)
    assert job.ok and job.video_url and probe_media(path).codec == "h264"


@pytest.mark.parametrize("failure", ["text", "error"])
def test_sora_bridge_chat(run_client, tmp_path, failure):
    with serve(
        job_seconds=0.5, seed=4, api_key=KEY, chat_flavor="sora2api", sora2api_failure=failure
    ) as relay:

        async def scenario(client):
            done = await maybe(client.generate_video("a lantern", dialect="chat"))
            with pytest.raises(sora_nb.GenerationFailed) as info:
                await maybe(client.generate_video("a storm [fail]", dialect="chat"))
            return done, info.value

        done, failed = run_client(relay, scenario)
    # Progress came as reasoning_content; the video as <video src> in an html fence.
    assert done.ok and done.video_url.startswith("http")
    assert failed.reason and ("[fail]" in failed.reason or "policy" in failed.reason)


def test_an_empty_balance_as_new_api_sends_it_is_quota_exceeded(run_client):
    with serve(job_seconds=0.3, seed=5, api_key=KEY) as relay:
        relay.add_fault(Fault(kind="create", action="quota", style="newapi"))

        async def scenario(client):
            with pytest.raises(sora_nb.QuotaExceeded) as info:
                await maybe(client.create_video("a fox", model="kling-v1"))
            return info.value

        error = run_client(relay, scenario, dialect="newapi")
    assert error.status_code == 403 and "用户额度不足" in str(error)
    assert relay.counters["create"] == 1  # asked once: no retry helps an empty balance


@pytest.mark.parametrize(
    ("families", "found"),
    [
        (("unified",), "unified"),
        (("videos",), "openai"),
        (("tasks",), "newapi"),
        (("chat", "models"), "chat"),
    ],
)
def test_auto_finds_each_families_relay_without_creating_anything(
    tmp_path, monkeypatch, families, found
):
    monkeypatch.setenv("SORA_NB_DATA_DIR", str(tmp_path))
    with serve(job_seconds=0.3, seed=6, api_key=KEY, families=families) as relay:
        with sora_nb.Client(base_url=relay.base_url, api_key=KEY, dialect="auto") as client:
            assert client.dialect == found
            result = client.probe_result
        counted = dict(relay.counters)
    assert found in result.served
    assert counted["create"] == 0 and counted["chat"] == 0
    assert result.requests == sum(counted.values())  # every request was a probe GET
    probing._MEMORY.clear()
