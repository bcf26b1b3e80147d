"""The rendered files: real H.264 + AAC mp4s, faststart, padding, ranges, the CDN origin."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest

from sora_nb.emulator import Emulator, serve
from sora_nb.emulator.render import Style, render_video
from tests.emulator_fixtures import Mp4Audio, probe_audio, probe_mp4, top_level_boxes, unified_body

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with serve(job_seconds=0.05, concurrency=8, seed=41) as e:
        yield e


def make_video(emu: Emulator, **body: object) -> tuple[str, bytes]:
    with httpx.Client(base_url=emu.base_url, timeout=20) as c:
        vid = c.post("/videos", json=body).json()["id"]
        deadline = time.monotonic() + 10
        while c.get(f"/videos/{vid}").json()["status"] != "completed":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        return vid, c.get(f"/videos/{vid}/content").content


@pytest.mark.parametrize(
    ("size", "seconds", "portrait"),
    [("1280x720", "4", False), ("720x1280", "12", True), ("1792x1024", "8", False)],
)
def test_mp4_is_h264_yuv420p_with_exact_duration_and_aspect(
    emu: Emulator, size: str, seconds: str, portrait: bool
) -> None:
    _, data = make_video(emu, prompt="a red fox", model="sora-2-pro", size=size, seconds=seconds)
    probe = probe_mp4(data)
    assert probe.codec == "h264"
    assert probe.pix_fmt == "yuv420p"
    assert abs(probe.duration - int(seconds)) <= 1 / probe.fps + 1e-6
    assert abs(probe.frames / probe.fps - int(seconds)) <= 1 / probe.fps + 1e-6
    assert (probe.height > probe.width) is portrait
    w, h = (int(x) for x in size.split("x"))
    assert abs(probe.width / probe.height - w / h) < 0.02
    assert (probe.width, probe.height) == (round(w * 0.25 / 2) * 2, round(h * 0.25 / 2) * 2)
    assert probe.width % 2 == 0 and probe.height % 2 == 0
    # Frames move over time.
    assert probe.lumas[0] != probe.lumas[len(probe.lumas) // 2] != probe.lumas[-1]


def test_unified_sizes_render_with_their_orientation(emu: Emulator) -> None:
    with httpx.Client(base_url=emu.base_url) as c:
        jid = c.post("/video/create", json=unified_body(orientation="landscape", duration=15,
                                                      size="large")).json()["id"]  # fmt: skip
        time.sleep(0.15)
        q = c.get("/video/query", params={"id": jid}).json()
        probe = probe_mp4(httpx.get(q["video_url"]).content)
        assert (q["width"], q["height"]) == (1920, 1080)  # reported: the requested size
        assert (probe.width, probe.height) == (480, 270)  # rendered: render_scale 0.25
        assert abs(probe.duration - 15) <= 1 / probe.fps + 1e-6


def test_content_depends_on_prompt_and_is_deterministic(emu: Emulator) -> None:
    _, a = make_video(emu, prompt="a blue whale", seconds="4", size="1280x720")
    _, b = make_video(emu, prompt="a green forest", seconds="4", size="1280x720")
    _, a2 = make_video(emu, prompt="a blue whale", seconds="4", size="1280x720")
    pa, pb, pa2 = probe_mp4(a), probe_mp4(b), probe_mp4(a2)
    assert pa.lumas[0] != pb.lumas[0]
    assert pa.lumas == pa2.lumas


def assert_sound_all_along(audio: Mp4Audio, length: float) -> None:
    """One AAC-LC track as long as the video, audible in every second, faded in and out."""
    assert audio.streams == 1
    # mp4a.40.2: object type 0x40 (MPEG-4 audio, the `mp4a` sample entry), audio object type 2.
    assert (audio.codec, audio.profile, audio.codec_tag, audio.object_type) == (
        "aac",
        "LC",
        "mp4a",
        2,
    )
    assert audio.rate in (44_100, 48_000) and audio.channels in (1, 2)
    assert abs(audio.duration - length) <= 0.01  # the track's length, as players honour it
    assert abs(audio.decoded_seconds - length) <= 0.1  # what the decoder gives (priming cut)
    assert audio.rms() > 0.05
    middle = audio.rms(length / 2 - 0.25, length / 2 + 0.25)
    for t in range(int(length)):
        assert audio.rms(t, t + 1) > 0.05, f"silent around {t} s"
    # Gentle ends: no click when the sound starts or stops.
    assert audio.rms(0, 0.01) < middle / 5
    assert audio.rms(length - 0.02, length) < middle / 5


@pytest.mark.parametrize(
    ("size", "seconds"), [("1280x720", "4"), ("720x1280", "12"), ("1792x1024", "8")]
)
def test_mp4_has_one_aac_lc_track_as_long_as_the_video(
    emu: Emulator, size: str, seconds: str
) -> None:
    _, data = make_video(emu, prompt="a red fox", model="sora-2-pro", size=size, seconds=seconds)
    video = probe_mp4(data)
    assert_sound_all_along(probe_audio(data), video.frames / video.fps)


@pytest.mark.slow
def test_longest_unified_video_has_sound_to_its_end(emu: Emulator) -> None:
    body = unified_body(model="sora-2-pro", orientation="landscape", size="large", duration=25)
    with httpx.Client(base_url=emu.base_url) as c:
        jid = c.post("/video/create", json=body).json()["id"]
        time.sleep(0.15)
        q = c.get("/video/query", params={"id": jid}).json()
    data = httpx.get(q["video_url"]).content
    video = probe_mp4(data)
    assert abs(video.frames / video.fps - 25) <= 1 / video.fps + 1e-6
    assert_sound_all_along(probe_audio(data), video.frames / video.fps)


@pytest.mark.parametrize(("seconds", "fps"), [(1.3, 7), (0.5, 60), (3.0, 25)])
def test_sound_matches_the_frames_at_any_frame_rate(
    tmp_path: Path, seconds: float, fps: int
) -> None:
    media = render_video(
        "odd rates",
        seed=3,
        width=64,
        height=36,
        seconds=seconds,
        out_dir=tmp_path,
        stem="v",
        fps=fps,
    )
    data = media.mp4.read_bytes()
    assert probe_mp4(data).frames == media.frames
    audio = probe_audio(data)
    length = media.frames / fps  # 1.3 s at 7 fps: 9 frames, 1.2857 s
    assert abs(audio.duration - length) <= 0.001  # the edit list counts in the movie's 1/1000 s
    assert abs(audio.decoded_seconds - length) <= 0.1
    assert audio.rms() > 0.05


def test_sound_depends_on_prompt_and_is_deterministic(emu: Emulator) -> None:
    _, a = make_video(emu, prompt="a blue whale", seconds="4", size="1280x720")
    _, b = make_video(emu, prompt="a green forest", seconds="4", size="1280x720")
    _, a2 = make_video(emu, prompt="a blue whale", seconds="4", size="1280x720")
    assert a == a2  # same prompt and seed: the same file, sound included
    pa, pb, pa2 = probe_audio(a), probe_audio(b), probe_audio(a2)
    assert pa.packets == pa2.packets and pa.samples == pa2.samples
    assert pa.packets != pb.packets and pa.samples != pb.samples
    # The chord comes from the prompt's hash (the emulator's seed is 41): each track sounds its
    # own three notes and none of the other's, so their dominant pitches differ too.
    notes_a = Style.of("a blue whale", 41).frequencies()
    notes_b = Style.of("a green forest", 41).frequencies()
    assert not set(notes_a) & set(notes_b)  # the two prompts were picked to sound apart
    dominant = []
    for probe, own, other in ((pa, notes_a, notes_b), (pb, notes_b, notes_a)):
        own_power = [probe.power(f, 1, 3) for f in own]
        other_power = [probe.power(f, 1, 3) for f in other]
        assert min(own_power) > 0.005  # a full-scale sine is 1; each note is a sixth of that
        assert max(other_power) < min(own_power) / 1000
        dominant.append(max((*own, *other), key=lambda f: probe.power(f, 1, 3)))
    assert dominant[0] in notes_a and dominant[1] in notes_b


def test_faststart_moov_before_mdat(emu: Emulator) -> None:
    _, data = make_video(emu, prompt="fast start")
    kinds = [k for k, _ in top_level_boxes(data)]
    assert kinds[0] == "ftyp"
    assert kinds.index("moov") < kinds.index("mdat")
    assert sum(size for _, size in top_level_boxes(data)) == len(data)


def test_thumbnail_spritesheet_gif_decode(emu: Emulator) -> None:
    vid, _ = make_video(emu, prompt="images", size="720x1280")
    with httpx.Client(base_url=emu.base_url) as c:
        for variant, fmt in (("thumbnail", "webp"), ("spritesheet", "mjpeg")):
            data = c.get(f"/videos/{vid}/content", params={"variant": variant}).content
            with av.open(io.BytesIO(data)) as container:
                frame = next(container.decode(video=0))
                assert container.streams.video[0].codec_context.name in (fmt, "libwebp")
                if variant == "thumbnail":
                    assert (frame.width, frame.height) == (180, 320)
                else:
                    assert (frame.width, frame.height) == (4 * 180, 320)


def test_padding_keeps_a_decodable_mp4_of_exact_size() -> None:
    padding = 3 * (1 << 20) + 12345
    with (
        serve(job_seconds=0.05, seed=41) as plain,
        serve(job_seconds=0.05, seed=41, video_padding=padding) as padded,
    ):
        _, base = make_video(plain, prompt="pad me", seconds="4")
        vid, data = make_video(padded, prompt="pad me", seconds="4")
        assert len(data) == len(base) + padding
        assert data[: len(base)] == base  # same seed, same prompt: same file, then the box
        boxes = top_level_boxes(data)
        assert boxes[-1] == ("free", padding)
        probe = probe_mp4(data)
        assert probe.codec == "h264" and abs(probe.duration - 4) <= 1 / probe.fps + 1e-6
        with httpx.Client(base_url=padded.base_url) as c:
            head = c.head(f"/videos/{vid}/content")
            assert int(head.headers["content-length"]) == len(data)
            assert head.content == b""
            part = c.get(f"/videos/{vid}/content", headers={"Range": "bytes=100-199"})
            assert part.status_code == 206
            assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
            assert part.content == data[100:200]
            tail = c.get(f"/videos/{vid}/content", headers={"Range": f"bytes={len(base)}-"})
            assert tail.content == data[len(base) :]
            bad = c.get(f"/videos/{vid}/content", headers={"Range": f"bytes={len(data)}-"})
            assert bad.status_code == 416


def test_cdn_records_requests_and_headers(emu: Emulator) -> None:
    with httpx.Client(base_url=emu.base_url) as c:
        jid = c.post("/video/create", json=unified_body()).json()["id"]
        time.sleep(0.15)
        q = c.get("/video/query", params={"id": jid}).json()
    before = len(emu.cdn_requests)
    httpx.get(q["thumbnail_url"], headers={"X-Probe": "yes"})
    httpx.head(q["video_url"])
    httpx.get(q["video_url"], headers={"Authorization": "Bearer leaked"})
    records = emu.cdn_requests[before:]
    assert [r["method"] for r in records] == ["GET", "HEAD", "GET"]
    assert records[0]["headers"]["x-probe"] == "yes"
    assert "authorization" not in records[0]["headers"]
    assert records[2]["headers"]["authorization"] == "Bearer leaked"  # recorded, so tests see it
    assert all(name == name.lower() for r in records for name in r["headers"])
    assert records[1]["path"].endswith(".mp4")
    assert httpx.get(f"{emu.cdn_url}/cdn/20250101/nothing.mp4").status_code == 404
    assert httpx.get(f"{emu.cdn_url}/elsewhere").status_code == 404


def test_content_redirect_sends_clients_to_the_cdn_without_the_key() -> None:
    key = "sk-redirect-test"
    with serve(job_seconds=0.05, seed=2, api_key=key, content_redirect=True) as e:
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=e.base_url, headers=auth) as c:
            vid = c.post("/videos", json={"prompt": "redirect"}).json()["id"]
            time.sleep(0.15)
            r = c.get(f"/videos/{vid}/content")
            assert r.status_code == 302
            assert r.headers["location"].startswith(e.cdn_url + "/cdn/")
            assert r.headers["location"].endswith(".mp4")
            thumb = c.get(f"/videos/{vid}/content", params={"variant": "thumbnail"})
            assert thumb.headers["location"].endswith(".webp")
            followed = c.get(f"/videos/{vid}/content", follow_redirects=True)
            assert followed.status_code == 200 and followed.content[4:8] == b"ftyp"
        # httpx drops Authorization when a redirect leaves the origin; the CDN log proves it.
        assert e.cdn_requests[-1]["path"].endswith(".mp4")
        assert "authorization" not in e.cdn_requests[-1]["headers"]
