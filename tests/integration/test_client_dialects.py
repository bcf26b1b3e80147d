"""Both clients against the emulator over a real loopback socket, for every dialect."""

from __future__ import annotations

import sora_nb
from tests.conftest import KEY, collect, maybe
from tests.media import probe

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def test_unified_generate_and_download(emu, run_client, tmp_path):
    updates = []

    async def scenario(client):
        job = await maybe(
            client.generate_video(
                "a paper boat on a pond",
                model="sora-2",
                orientation="landscape",
                duration=10,
                on_update=updates.append,
            )
        )
        path = await maybe(client.download(job, tmp_path))
        return job, path

    job, path = run_client(emu, scenario)
    assert job.status == "completed" and job.progress == 100
    assert job.id.startswith("sora-2:task_")
    assert job.raw["status"] == "completed"  # the gateway's own answer is kept
    assert job.video_url.startswith(emu.cdn_url)
    # on_update fired on every change, first queued, last completed, progress never going back
    assert updates[0].status in ("queued", "in_progress") and updates[-1].status == "completed"
    progresses = [u.progress for u in updates if u.progress is not None]
    assert progresses == sorted(progresses)
    assert len({(u.status, u.progress) for u in updates}) == len(updates)
    info = probe(path)
    assert info.codec == "h264" and info.pix_fmt == "yuv420p"
    assert abs(info.duration - 10) <= 0.1
    assert info.width > info.height  # landscape
    assert path.parent == tmp_path and not list(tmp_path.glob(".*.part"))
    # the CDN is another origin: it never saw the key
    cdn = emu.cdn_requests
    assert cdn and all("authorization" not in r["headers"] for r in cdn)
    assert emu.counters["create"] == 1


def test_unified_reference_image_url_and_file(emu, run_client, tmp_path):
    image = tmp_path / "ref.png"
    image.write_bytes(PNG)

    async def scenario(client):
        a = await maybe(client.create_video("animate", images=["https://img.example/a.png"]))
        b = await maybe(client.create_video("animate", images=[str(image)]))
        return a, b

    a, b = run_client(emu, scenario)
    sent = [emu.jobs[a.id].params["images"], emu.jobs[b.id].params["images"]]
    assert sent[0] == ["https://img.example/a.png"]
    assert sent[1][0].startswith("data:image/png;base64,")


def test_openai_dialect_json_and_multipart(emu, run_client, tmp_path):
    image = tmp_path / "ref.png"
    image.write_bytes(PNG)

    async def scenario(client):
        plain = await maybe(
            client.generate_video(
                "a lighthouse", model="sora-2", size="1280x720", duration=4, dialect="openai"
            )
        )
        with_ref = await maybe(
            client.create_video(
                "a lighthouse",
                model="sora-2-pro",
                size="large",
                orientation="portrait",
                duration=8,
                images=[str(image)],
                dialect="openai",
            )
        )
        path = await maybe(client.download(plain, tmp_path))
        thumb = await maybe(client.download(plain, tmp_path, variant="thumbnail"))
        listed = await maybe(client.list_videos(limit=10))
        remix = await maybe(client.remix_video(plain.id, "the same, at night"))
        await maybe(client.delete_video(with_ref.id))
        return plain, with_ref, path, thumb, listed, remix

    plain, with_ref, path, thumb, listed, remix = run_client(emu, scenario)
    assert plain.status == "completed" and plain.dialect == "openai"
    assert (plain.width, plain.height, plain.seconds) == (1280, 720, 4)
    assert with_ref.raw["size"] == "1024x1792"  # 'large' + portrait on sora-2-pro
    info = probe(path)
    assert abs(info.duration - 4) <= 0.1 and info.width > info.height
    assert (
        thumb.stat().st_size > 0 and thumb.name.endswith(".thumbnail.webp")
    ) or thumb.suffix in (".jpg", ".png", ".webp", ".jpeg")
    assert {j.id for j in listed} >= {plain.id, with_ref.id}
    assert remix.raw.get("remixed_from_video_id") == plain.id
    assert with_ref.id not in emu.jobs
    assert emu.counters["create"] == 2 and emu.counters["remix"] == 1


def test_openai_poll_hint_is_honoured(run_client):
    from sora_nb.emulator import serve

    with serve(job_seconds=1.0, seed=3, api_key=KEY, poll_hint_ms=400) as emulator:

        async def scenario(client):
            return await maybe(client.generate_video("x", dialect="openai", duration=4))

        job = run_client(emulator, scenario, poll_interval=0.02, max_poll_interval=0.02)
        assert job.status == "completed"
        # Polling every 20 ms would mean ~50 polls; the 400 ms hint keeps it near 1 s / 0.4 s.
        assert emulator.counters["poll"] <= 5


def test_chat_dialect_video(emu, run_client):
    updates = []

    async def scenario(client):
        return await maybe(
            client.generate_video("a fox in snow", dialect="chat", on_update=updates.append)
        )

    job = run_client(emu, scenario)
    assert job.status == "completed" and job.dialect == "chat"
    assert job.id.startswith("task_")
    assert job.video_url.startswith(emu.cdn_url) and job.video_url.endswith(".mp4")
    seen = [u.progress for u in updates if u.progress is not None]
    assert seen == sorted(seen) and len(seen) >= 2
    assert emu.counters["chat"] == 1 and emu.counters["create"] == 0


def test_chat_stream_ordinary_model(emu, run_client):
    emu.set(chat_chunks=300)

    async def scenario(client):
        return await collect(client.stream_chat("tell me about boats", model="gpt-4"))

    events = run_client(emu, scenario)
    assert len(events) >= 300
    text = events[-1].full_text
    assert "".join(e.text for e in events) == text
    assert "boats" in text
    assert events[-1].finish_reason == "stop"


def test_chat_non_streamed_and_images(emu, run_client):
    async def scenario(client):
        answer = await maybe(
            client.chat(
                [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "hello there"},
                ],
                model="gpt-3.5-turbo",
                temperature=0.2,
            )
        )
        pics = await maybe(
            client.generate_images("a cat surfing", model="dall-e-2", n=2, size="256x256")
        )
        return answer, pics

    answer, pics = run_client(emu, scenario)
    assert "hello there" in answer.full_text and answer.usage
    assert len(pics) == 2 and all(p.url and p.url.startswith(emu.cdn_url) for p in pics)


def test_validation_sends_nothing(emu, run_client):
    async def scenario(client):
        errors = []
        for kwargs in (
            {"model": "sora-2-pro", "size": "small"},
            {"model": "sora-2", "duration": 25},
            {"model": "sora-2", "orientation": "square"},
            {"model": "sora-2", "duration": 10, "dialect": "openai"},
            {"model": "sora-2", "images": ["/no/such/file.png"]},
        ):
            try:
                await maybe(client.create_video("x", **kwargs))
            except sora_nb.ValidationError as exc:
                errors.append(str(exc))
        return errors

    errors = run_client(emu, scenario)
    assert len(errors) == 5
    assert "large" in errors[0] and "10, 15" in errors[1] and "4, 8, 12" in errors[3]
    assert sum(emu.counters.values()) == 0


def test_unknown_model_passes_through(emu, run_client):
    async def scenario(client):
        return await maybe(client.create_video("x", model="kling-v1", size="huge", duration=7))

    job = run_client(emu, scenario)
    assert emu.jobs[job.id].params["size"] == "huge"


def test_wrong_key_is_never_echoed(emu, run_client):
    wrong = "sk-wrong-canary-77aa11"

    async def scenario(client):
        try:
            await maybe(client.create_video("x"))
        except sora_nb.AuthenticationError as exc:
            return exc

    exc = run_client(emu, scenario, api_key=wrong)
    assert exc.status_code == 401
    assert "401" in str(exc) and "Incorrect API key" in str(exc)
    assert wrong not in str(exc) and wrong not in repr(exc.body) and wrong not in repr(exc)


def test_reference_images_on_chat_and_on_json_only_videos(emu, run_client, tmp_path):
    image = tmp_path / "ref.png"
    image.write_bytes(PNG)

    async def scenario(client):
        by_chat = await maybe(
            client.generate_video(
                "animate", dialect="chat", images=["https://img.example/a.png", str(image)]
            )
        )
        by_json = await maybe(
            client.create_video("animate", dialect="videos-json", images=[str(image)])
        )
        return by_chat, by_json

    by_chat, by_json = run_client(emu, scenario)
    chat_images = emu.jobs[by_chat.id].params["images"]
    assert chat_images[0] == "https://img.example/a.png"
    assert chat_images[1].startswith("data:image/png;base64,")
    sent = emu.jobs[by_json.id].params["input_reference"]
    assert sent["image_url"].startswith("data:image/png;base64,")  # a string in the JSON body
