"""The official `openai` package against the emulator: an independent check of its OpenAI shapes."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from sora_nb.emulator import Emulator, serve
from sora_nb.emulator.render import png_image
from tests.emulator_fixtures import probe_mp4, run_async

openai = pytest.importorskip("openai")

# openai marks its Sora methods deprecated (API shutdown announced); the warning says nothing here.
pytestmark = [pytest.mark.timeout(60), pytest.mark.filterwarnings("ignore::DeprecationWarning")]

KEY = "sk-sdk-test-key"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with serve(job_seconds=0.3, concurrency=8, seed=51, api_key=KEY, poll_hint_ms=30) as e:
        yield e


@pytest.fixture
def client(emu: Emulator) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=emu.base_url, api_key=KEY, max_retries=0) as c:
        yield c


def test_create_and_poll_then_download(emu: Emulator, client: openai.OpenAI) -> None:
    video = client.videos.create_and_poll(
        prompt="a paper boat on a river", model="sora-2", seconds="4", size="1280x720"
    )
    assert video.status == "completed"
    assert video.progress == 100
    assert video.id.startswith("video_")
    assert (video.seconds, video.size, video.model) == ("4", "1280x720", "sora-2")
    polls = [r for r in emu.requests if r.kind == "poll" and video.id in r.path]
    assert len(polls) >= 2  # it waited, steered by openai-poll-after-ms

    data = client.videos.download_content(video.id).read()
    probe = probe_mp4(data)
    assert probe.codec == "h264"
    assert abs(probe.duration - 4) <= 1 / probe.fps + 1e-6
    assert abs(probe.width / probe.height - 16 / 9) < 0.02
    thumb = client.videos.download_content(video.id, variant="thumbnail").read()
    assert thumb[:4] == b"RIFF"


def test_input_reference_file_goes_multipart(emu: Emulator, client: openai.OpenAI) -> None:
    image = png_image("reference", seed=1, width=72, height=128)
    video = client.videos.create_and_poll(
        prompt="animate this",
        model="sora-2-pro",
        seconds="8",
        size="720x1280",
        input_reference=("ref.png", image, "image/png"),
    )
    assert video.status == "completed"
    params = emu.jobs[video.id].params
    assert params["encoding"] == "multipart"
    assert params["input_reference"]["bytes"] == len(image)
    assert params["input_reference"]["content_type"] == "image/png"


def test_list_remix_delete(emu: Emulator, client: openai.OpenAI) -> None:
    first = client.videos.create_and_poll(prompt="one", seconds="4")
    second = client.videos.create(prompt="two", seconds="4")
    listed = [v.id for v in client.videos.list(limit=1, order="asc")]  # pages through all
    assert listed.index(first.id) < listed.index(second.id)
    assert len(listed) == len(set(listed))

    remix = client.videos.remix(first.id, prompt="one, but at night")
    assert remix.remixed_from_video_id == first.id
    assert remix.status == "queued"
    done = client.videos.poll(remix.id)
    assert done.status == "completed"

    deleted = client.videos.delete(second.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (second.id, True, "video.deleted")
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(second.id)


def test_failed_video_and_bad_request(client: openai.OpenAI) -> None:
    failed = client.videos.create_and_poll(prompt="nope [fail]", seconds="4")
    assert failed.status == "failed"
    assert failed.error is not None and "[fail]" in failed.error.message
    with pytest.raises(openai.BadRequestError) as info:
        client.videos.create(prompt="x", model="sora-2", size="1792x1024")
    assert info.value.status_code == 400


def test_chat_stream_and_not(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "tell me something"}]
    stream = client.chat.completions.create(model="gpt-4", messages=messages, stream=True)
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert streamed.startswith("Echo from gpt-4: tell me something")
    whole = client.chat.completions.create(model="gpt-4", messages=messages)
    assert whole.choices[0].message.content == streamed
    assert whole.usage is not None and whole.usage.total_tokens > 0


def test_video_chat_stream_through_the_sdk(emu: Emulator, client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="sora-2", messages=[{"role": "user", "content": "a lighthouse"}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert "> ID: `task_" in text
    assert f"[在线播放▶️]({emu.cdn_url}/cdn/" in text


def test_images_b64(client: openai.OpenAI) -> None:
    result = client.images.generate(
        model="dall-e-3", prompt="a lamp", size="1024x1024", response_format="b64_json"
    )
    assert base64.b64decode(result.data[0].b64_json)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "a lamp" in result.data[0].revised_prompt


def test_wrong_key_is_an_authentication_error(emu: Emulator) -> None:
    bad = openai.OpenAI(base_url=emu.base_url, api_key="sk-not-this-one", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.videos.list()
    assert info.value.status_code == 401
    assert "sk-not-this-one" in str(info.value)  # the relay echoes it; sora_nb must scrub it


def test_async_client(emu: Emulator) -> None:
    async def go() -> tuple[str, str]:
        async with openai.AsyncOpenAI(base_url=emu.base_url, api_key=KEY, max_retries=0) as c:
            video = await c.videos.create_and_poll(prompt="async", seconds="4", size="720x1280")
            content = await c.videos.download_content(video.id)
            data = await content.aread()
            stream = await c.chat.completions.create(
                model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            text = "".join([ch.choices[0].delta.content or "" async for ch in stream if ch.choices])
            assert probe_mp4(data).height > probe_mp4(data).width
            return video.status, text

    status, text = run_async(go)
    assert status == "completed"
    assert text.startswith("Echo from gpt-3.5-turbo: hi")
