"""The rendered files: real H.264 mp4s, faststart, padding, ranges, the CDN origin."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import av
import httpx
import pytest

from sora_nb.emulator import Emulator, serve
from tests.emulator_fixtures import probe_mp4, top_level_boxes, unified_body

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
