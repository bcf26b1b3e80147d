"""The emulator's wire shapes, over real loopback sockets with raw httpx (no sora_nb client)."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator

import httpx
import pytest

from sora_nb.emulator import Emulator, serve
from tests.emulator_fixtures import png_size, unified_body

pytestmark = pytest.mark.timeout(60)

UNIFIED_ID = re.compile(r"^sora-2:task_[0-9a-z]{26}$")
CDN_FILE = re.compile(
    r"^http://127\.0\.0\.1:\d+/cdn/\d{8}/[A-Za-z0-9]{30}\.(mp4|webp|gif|jpg|png)$"
)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with serve(job_seconds=0.3, concurrency=8, seed=11, poll_hint_ms=40) as e:
        yield e


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> None:
    if "emu" in request.fixturenames:
        e = request.getfixturevalue("emu")
        e.clear_faults()
        e.reset_counters()


@pytest.fixture
def client(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url, timeout=10) as c:
        yield c


def wait_unified(client: httpx.Client, job_id: str, timeout: float = 10) -> list[dict]:
    answers = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get("/video/query", params={"id": job_id})
        assert r.status_code == 200, r.text
        answers.append(r.json())
        if answers[-1]["status"] in ("completed", "failed"):
            return answers
        time.sleep(0.03)
    raise AssertionError(f"{job_id} did not finish: {answers[-1]}")


def wait_video(client: httpx.Client, video_id: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/videos/{video_id}").json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.03)
    raise AssertionError(f"{video_id} did not finish")


# --- unified -----------------------------------------------------------------------------------


def test_unified_create_then_query_until_completed(emu: Emulator, client: httpx.Client) -> None:
    before_ms = time.time() * 1000
    r = client.post("/video/create", json=unified_body())
    assert r.status_code == 200
    created = r.json()
    assert set(created) == {"id", "status", "status_update_time"}
    assert UNIFIED_ID.match(created["id"])
    assert created["status"] == "pending"
    assert before_ms - 1000 <= created["status_update_time"] <= time.time() * 1000 + 1000

    answers = wait_unified(client, created["id"])
    pcts = [a["detail"]["pending_info"]["progress_pct"] for a in answers]
    assert pcts == sorted(pcts), "progress must not go backwards"
    assert any(0 < p < 1 for p in pcts[:-1]), pcts
    assert {a["status"] for a in answers[:-1]} <= {"pending", "processing"}
    running = answers[0]
    assert running["video_url"] is None
    assert running["detail"]["pending_info"]["status"] in ("queued", "processing")
    assert running["detail"]["input"] == {
        "size": "small",
        "model": "sora-2",
        "images": [],
        "prompt": "make animate",
        "orientation": "portrait",
        "duration": 10,
    }

    done = answers[-1]
    assert done["status"] == "completed"
    assert done["id"] == created["id"]
    assert done["detail"]["id"] == created["id"].split(":", 1)[1]
    assert done["detail"]["pending_info"]["progress_pct"] == 1.0
    assert done["status_update_time"] > created["status_update_time"]
    for key in ("video_url", "thumbnail_url"):
        assert done[key].startswith(emu.cdn_url + "/cdn/")
        assert CDN_FILE.match(done[key]), done[key]
    assert done["video_url"].endswith(".mp4")
    assert done["thumbnail_url"].endswith(".webp")
    assert (done["width"], done["height"]) == (720, 1280)
    assert done["enhanced_prompt"].startswith("make animate")
    assert done["detail"]["url"] == done["video_url"]
    assert done["detail"]["gif_url"].endswith(".gif")
    # The id went out URL-encoded (it contains ':').
    assert any("%3A" in rec.query for rec in emu.requests if rec.kind == "poll")
    assert emu.cdn_url != emu.base_url.removesuffix("/v1")
    assert httpx.get(done["video_url"]).content[4:8] == b"ftyp"
    assert httpx.get(done["detail"]["gif_url"]).content[:6] == b"GIF89a"


def test_unified_sizes_orientations_and_unknown_models(emu: Emulator, client: httpx.Client) -> None:
    cases = [
        (unified_body(orientation="landscape"), (1280, 720)),
        (unified_body(size="large", duration="15"), (1080, 1920)),  # duration as a string
        (unified_body(model="sora-2-pro", size="large", duration=25), (1080, 1920)),
        (unified_body(model="veo-3", size="medium", duration=7), (720, 1280)),
        (unified_body(model="kling-v2", size="640x480", duration=3), (640, 480)),
    ]
    for body, dims in cases:
        r = client.post("/video/create", json=body)
        assert r.status_code == 200, (body, r.text)
        job = emu.jobs[r.json()["id"]]
        assert (job.width, job.height) == dims
        assert job.seconds == float(body["duration"])
        assert r.json()["id"].startswith(body["model"] + ":task_")


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"images": None}, "images"),
        ({"model": None}, "model"),
        ({"orientation": None}, "orientation"),
        ({"prompt": None}, "prompt"),
        ({"size": None}, "size"),
        ({"duration": None}, "duration"),
        ({"orientation": "square"}, "orientation"),
        ({"size": "large", "model": "sora-2-pro", "duration": 10}, "duration"),
        ({"size": "small", "model": "sora-2-pro", "duration": 15}, "size"),
        ({"duration": 25}, "duration"),
        ({"duration": "ten"}, "duration"),
        ({"images": "https://x/y.png"}, "images"),
    ],
)
def test_unified_validation(client: httpx.Client, changes: dict, param: str) -> None:
    r = client.post("/video/create", json=unified_body(**changes))
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error"
    assert err["param"] == param
    assert err["message"]


def test_unified_bad_json_and_unknown_id(client: httpx.Client) -> None:
    r = client.post(
        "/video/create", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert "JSON" in r.json()["error"]["message"]
    r = client.get("/video/query", params={"id": "sora-2:task_doesnotexist"})
    assert r.status_code == 404
    assert set(r.json()["error"]) >= {"message", "type", "code"}
    assert client.get("/video/query").status_code == 400


def test_unified_fail_trigger_in_prompt(client: httpx.Client) -> None:
    r = client.post("/video/create", json=unified_body(prompt="a storm [fail]"))
    answers = wait_unified(client, r.json()["id"])
    done = answers[-1]
    assert done["status"] == "failed"
    assert "content policy" in done["error"]
    assert done["detail"]["pending_info"]["failure_reason"] == done["error"]
    assert done["video_url"] is None


def test_unified_alt_variant() -> None:
    with (
        serve(job_seconds=0.3, seed=3, unified_variant="alt") as e,
        httpx.Client(base_url=e.base_url) as c,
    ):
        ok = c.post("/video/create", json=unified_body()).json()["id"]
        bad = c.post("/video/create", json=unified_body(prompt="[fail]")).json()["id"]
        running = c.get("/video/query", params={"id": ok}).json()
        assert running["status"] == "in_progress"
        assert isinstance(running["progress"], int) and 0 <= running["progress"] < 100
        assert "pending_info" not in running["detail"]
        assert running["status_update_time"] < 10**11  # seconds, not milliseconds
        time.sleep(0.4)
        done = c.get("/video/query", params={"id": ok}).json()
        assert (done["status"], done["progress"]) == ("completed", 100)
        assert done["video_url"].startswith(e.cdn_url)
        failed = c.get("/video/query", params={"id": bad}).json()
        assert failed["status"] == "failed"
        assert set(failed["error"]) == {"code", "message"}


def test_unified_answer_chat_shape() -> None:
    with serve(job_seconds=0.1, seed=3, unified_answer="chat") as e:
        r = httpx.post(f"{e.base_url}/video/create", json=unified_body(), timeout=10)
        body = r.json()
        assert body["object"] == "chat.completion"
        assert set(body) >= {"id", "object", "created", "choices", "usage"}
        content = body["choices"][0]["message"]["content"]
        job_id = re.search(r"ID: `([^`]+)`", content).group(1)
        assert UNIFIED_ID.match(job_id)
        links = re.findall(r"\[[^\]]*\]\((http[^)]+\.mp4)\)", content)
        assert links and links[-1].startswith(e.cdn_url)
        # The id in the text is queryable like any unified id.
        q = httpx.get(f"{e.base_url}/video/query", params={"id": job_id}).json()
        assert q["status"] == "completed"


# --- queueing, determinism -------------------------------------------------------------------


def test_concurrency_one_queues_the_second_job() -> None:
    with serve(job_seconds=1.0, concurrency=1, seed=1) as e, httpx.Client(base_url=e.base_url) as c:
        first = c.post("/video/create", json=unified_body()).json()["id"]
        second = c.post("/video/create", json=unified_body(prompt="second")).json()["id"]
        a = c.get("/video/query", params={"id": first}).json()
        b = c.get("/video/query", params={"id": second}).json()
        assert a["status"] == "processing"
        assert b["status"] == "pending"
        assert b["detail"]["pending_info"]["status"] == "queued"
        assert b["detail"]["pending_info"]["progress_pct"] == 0
        assert b["detail"]["pending_info"]["progress_pos_in_queue"] == 1
        assert b["detail"]["pending_info"]["estimated_queue_wait_time"] > 0
        assert e.jobs[second].status == "queued"
        time.sleep(0.5)
        assert c.get("/video/query", params={"id": second}).json()["status"] == "pending"
        time.sleep(0.7)  # first is done at 1 s; second renders from then on
        assert c.get("/video/query", params={"id": first}).json()["status"] == "completed"
        b = c.get("/video/query", params={"id": second}).json()
        assert b["status"] == "processing"
        assert 0 < b["detail"]["pending_info"]["progress_pct"] < 0.8


def test_set_concurrency_at_runtime_starts_queued_jobs() -> None:
    with serve(job_seconds=5, concurrency=1, seed=1) as e, httpx.Client(base_url=e.base_url) as c:
        ids = [c.post("/video/create", json=unified_body()).json()["id"] for _ in range(3)]
        assert [e.jobs[i].status for i in ids] == ["in_progress", "queued", "queued"]
        e.set(concurrency=3)
        assert [e.jobs[i].status for i in ids] == ["in_progress"] * 3
        e.set(job_seconds=0.05)  # applies to new jobs only
        quick = c.post("/video/create", json=unified_body()).json()["id"]
        time.sleep(0.1)
        assert e.jobs[ids[0]].status == "in_progress"
        assert e.jobs[quick].status == "queued"  # still waiting for a slot
        with pytest.raises(TypeError):
            e.set(no_such_knob=1)


def _id_sequence(e: Emulator) -> list[str]:
    with httpx.Client(base_url=e.base_url) as c:
        return [
            c.post("/video/create", json=unified_body()).json()["id"],
            c.post("/videos", json={"prompt": "p", "seconds": "4"}).json()["id"],
            c.post("/videos", json={"prompt": "p", "duration": 5.0}).json()["task_id"],
            c.post("/chat/completions", json={"model": "gpt-4", "messages": [
                {"role": "user", "content": "hi"}]}).json()["id"],
        ]  # fmt: skip


def test_same_seed_same_ids_other_seed_other_ids() -> None:
    runs = []
    for seed in (5, 5, 6, None):
        with serve(job_seconds=0.1, seed=seed) as e:
            runs.append(_id_sequence(e))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert runs[0] != runs[3]
    assert all(not set(runs[2]) & set(r) for r in (runs[0], runs[3]))


# --- openai ------------------------------------------------------------------------------------

VIDEO_KEYS = {
    "id",
    "object",
    "model",
    "status",
    "progress",
    "created_at",
    "completed_at",
    "expires_at",
    "seconds",
    "size",
    "prompt",
    "remixed_from_video_id",
    "error",
}


def test_openai_json_create_retrieve_and_poll_header(emu: Emulator, client: httpx.Client) -> None:
    r = client.post(
        "/videos", json={"prompt": "a cat", "model": "sora-2", "seconds": "8", "size": "1280x720"}
    )
    assert r.status_code == 200, r.text
    video = r.json()
    assert set(video) == VIDEO_KEYS
    assert re.fullmatch(r"video_[0-9a-f]{48}", video["id"])
    assert video["object"] == "video"
    assert (video["status"], video["progress"]) == ("queued", 0)
    assert (video["seconds"], video["size"], video["model"]) == ("8", "1280x720", "sora-2")
    assert video["completed_at"] is None and video["error"] is None
    assert abs(video["created_at"] - time.time()) < 5

    seen = []
    while True:
        r = client.get(f"/videos/{video['id']}")
        assert r.headers["openai-poll-after-ms"] == "40"
        body = r.json()
        seen.append((body["status"], body["progress"]))
        assert isinstance(body["progress"], int)
        if body["status"] == "completed":
            break
        time.sleep(0.03)
    assert ("in_progress",) in {(s,) for s, _ in seen}
    assert body["progress"] == 100
    assert body["completed_at"] >= body["created_at"]
    assert body["expires_at"] > body["completed_at"]
    assert emu.jobs[video["id"]].params["encoding"] == "json"


def test_openai_poll_header_absent_by_default() -> None:
    with serve(job_seconds=0.1, seed=2) as e:
        vid = httpx.post(f"{e.base_url}/videos", json={"prompt": "x"}).json()["id"]
        r = httpx.get(f"{e.base_url}/videos/{vid}")
        assert "openai-poll-after-ms" not in r.headers
        assert r.json()["size"] == "720x1280" and r.json()["seconds"] == "4"  # OpenAI defaults


def test_openai_multipart_with_file_and_image_url(emu: Emulator, client: httpx.Client) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
    r = client.post(
        "/videos",
        data={
            "prompt": "from an image",
            "model": "sora-2-pro",
            "seconds": "12",
            "size": "1792x1024",
        },
        files={"input_reference": ("ref.png", png, "image/png")},
    )
    assert r.status_code == 200, r.text
    job = emu.jobs[r.json()["id"]]
    assert job.params["encoding"] == "multipart"
    assert job.params["input_reference"] == {
        "filename": "ref.png",
        "content_type": "image/png",
        "bytes": len(png),
    }
    assert (job.width, job.height, job.seconds) == (1792, 1024, 12.0)
    assert job.prompt == "from an image"

    # The openai SDK's form spelling of a nested object, and the JSON spelling.
    r = client.post(
        "/videos",
        data={"prompt": "p", "input_reference[image_url]": "https://example.com/a.png"},
        files={"unused": ("x.txt", b"x", "text/plain")},
    )
    assert emu.jobs[r.json()["id"]].params["input_reference"] == {
        "image_url": "https://example.com/a.png"
    }
    r = client.post(
        "/videos", json={"prompt": "p", "input_reference": {"image_url": "https://e.x/b.png"}}
    )
    assert emu.jobs[r.json()["id"]].params["input_reference"] == {"image_url": "https://e.x/b.png"}

    r = client.post(
        "/videos",
        data={"prompt": "p"},
        files={"input_reference": ("notes.txt", b"hello", "text/plain")},
    )
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "input_reference"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "p", "model": "sora-2", "size": "1024x1792"}, "size"),
        ({"prompt": "p", "model": "sora-2", "seconds": "5"}, "seconds"),
        ({"prompt": "p", "model": "sora-2-pro", "seconds": "10"}, "seconds"),
        ({"prompt": "p", "size": "big"}, "size"),
        ({"model": "sora-2"}, "prompt"),
    ],
)
def test_openai_validation(client: httpx.Client, body: dict, param: str) -> None:
    r = client.post("/videos", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


def test_openai_other_models_pass_any_size(emu: Emulator, client: httpx.Client) -> None:
    r = client.post(
        "/videos", json={"prompt": "p", "model": "veo-3", "seconds": "6", "size": "640x480"}
    )
    assert r.status_code == 200
    assert (r.json()["seconds"], r.json()["size"]) == ("6", "640x480")
    r = client.post("/videos", json={"prompt": "p", "model": "sora-2-pro", "size": "1024x1792"})
    assert r.status_code == 200


def test_openai_content_variants(emu: Emulator, client: httpx.Client) -> None:
    vid = client.post("/videos", json={"prompt": "variants", "seconds": "4"}).json()["id"]
    early = client.get(f"/videos/{vid}/content")
    assert early.status_code == 404
    assert "not completed" in early.json()["error"]["message"] or "in_progress" in early.text
    assert wait_video(client, vid)["status"] == "completed"
    video = client.get(f"/videos/{vid}/content")
    assert video.headers["content-type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"
    assert int(video.headers["content-length"]) == len(video.content)
    assert (
        client.get(f"/videos/{vid}/content", params={"variant": "video"}).content == video.content
    )
    thumb = client.get(f"/videos/{vid}/content", params={"variant": "thumbnail"})
    assert thumb.headers["content-type"] == "image/webp"
    assert thumb.content[:4] == b"RIFF" and thumb.content[8:12] == b"WEBP"
    sprite = client.get(f"/videos/{vid}/content", params={"variant": "spritesheet"})
    assert sprite.headers["content-type"] == "image/jpeg"
    assert sprite.content[:2] == b"\xff\xd8"
    assert client.get(f"/videos/{vid}/content", params={"variant": "gif"}).status_code == 400
    assert client.get("/videos/video_nope/content").status_code == 404
    assert emu.counters["download"] == 7


def test_openai_failed_video_has_error_object(client: httpx.Client) -> None:
    vid = client.post("/videos", json={"prompt": "bad [fail]"}).json()["id"]
    body = wait_video(client, vid)
    assert body["status"] == "failed"
    assert set(body["error"]) == {"code", "message"}
    assert "[fail]" in body["error"]["message"]
    assert client.get(f"/videos/{vid}/content").status_code == 404


def test_openai_list_pages_and_order() -> None:
    with serve(job_seconds=0.1, seed=4) as e, httpx.Client(base_url=e.base_url) as c:
        ids = [c.post("/videos", json={"prompt": f"v{i}"}).json()["id"] for i in range(5)]
        c.post("/video/create", json=unified_body())  # other dialects are not listed
        page = c.get("/videos", params={"limit": 2, "order": "asc"}).json()
        assert page["object"] == "list"
        assert [v["id"] for v in page["data"]] == ids[:2]
        assert (page["first_id"], page["last_id"], page["has_more"]) == (ids[0], ids[1], True)
        page2 = c.get("/videos", params={"limit": 2, "order": "asc", "after": page["last_id"]})
        assert [v["id"] for v in page2.json()["data"]] == ids[2:4]
        last = c.get("/videos", params={"limit": 2, "order": "asc", "after": ids[3]}).json()
        assert [v["id"] for v in last["data"]] == ids[4:]
        assert last["has_more"] is False
        desc = c.get("/videos").json()
        assert [v["id"] for v in desc["data"]] == ids[::-1]
        assert all(set(v) == VIDEO_KEYS for v in desc["data"])
        assert c.get("/videos", params={"limit": 0}).status_code == 400
        assert c.get("/videos", params={"order": "up"}).status_code == 400
        empty = httpx.get(f"{e.base_url}/videos", params={"after": ids[-1], "order": "asc"}).json()
        assert empty["data"] == [] and empty["first_id"] is None and not empty["has_more"]
        assert e.counters["list"] == 7


def test_openai_delete(emu: Emulator, client: httpx.Client) -> None:
    vid = client.post("/videos", json={"prompt": "to delete"}).json()["id"]
    r = client.delete(f"/videos/{vid}")
    assert r.json() == {"id": vid, "object": "video.deleted", "deleted": True}
    assert client.get(f"/videos/{vid}").status_code == 404
    assert client.delete(f"/videos/{vid}").status_code == 404
    assert vid not in emu.jobs
    assert emu.counters["delete"] == 2


def test_openai_remix(emu: Emulator, client: httpx.Client) -> None:
    src = client.post("/videos", json={"prompt": "source", "seconds": "8", "size": "1280x720"})
    src_id = src.json()["id"]
    r = client.post(f"/videos/{src_id}/remix", json={"prompt": "again"})
    assert r.status_code == 400  # not completed yet
    wait_video(client, src_id)
    r = client.post(f"/videos/{src_id}/remix", json={"prompt": "now in blue"})
    assert r.status_code == 200, r.text
    remix = r.json()
    assert set(remix) == VIDEO_KEYS
    assert remix["remixed_from_video_id"] == src_id
    assert remix["id"] != src_id
    assert (remix["seconds"], remix["size"], remix["prompt"]) == ("8", "1280x720", "now in blue")
    assert wait_video(client, remix["id"])["status"] == "completed"
    assert client.post("/videos/video_nope/remix", json={"prompt": "x"}).status_code == 404
    assert client.post(f"/videos/{src_id}/remix", json={}).status_code == 400
    assert emu.counters["remix"] == 4


def test_stai_create_and_poll(emu: Emulator, client: httpx.Client) -> None:
    r = client.post(
        "/videos",
        json={
            "model": "kling-v1",
            "prompt": "an astronaut on the moon",
            "duration": 5.0,
            "width": 1280,
            "height": 720,
            "fps": 30,
            "seed": 3,
            "n": 1,
            "response_format": "url",
            "metadata": {"negative_prompt": "blur"},
        },
    )
    assert r.status_code == 200, r.text
    created = r.json()
    assert set(created) == {"task_id", "status"}
    assert created["status"] == "queued"
    assert re.fullmatch(r"[a-z0-9]{12}", created["task_id"])
    task = created["task_id"]
    running = client.get(f"/videos/{task}").json()
    assert "metadata" not in running
    assert running["status"] in ("queued", "in_progress")
    body = wait_video(client, task)
    assert body == {
        "id": task,
        "object": "video",
        "model": "kling-v1",
        "status": "completed",
        "progress": 100,
        "created_at": body["created_at"],
        "completed_at": body["completed_at"],
        "metadata": {"duration": 5.0, "fps": 30, "width": 1280, "height": 720},
    }
    assert client.get(f"/videos/{task}/content").content[4:8] == b"ftyp"
    assert emu.jobs[task].params["metadata"] == {"negative_prompt": "blur"}
    # An image-to-video request with only `image` and `duration`.
    r = client.post("/videos", json={"prompt": "move", "image": "https://e.x/i.jpg", "duration": 5})
    assert set(r.json()) == {"task_id", "status"}


# --- images ------------------------------------------------------------------------------------


def test_images_url_and_b64(emu: Emulator, client: httpx.Client) -> None:
    r = client.post(
        "/images/generations",
        json={"model": "dall-e-3", "prompt": "a cat in sunglasses", "n": 1, "size": "1792x1024",
              "quality": "hd", "style": "vivid"},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"created", "data"}
    item = body["data"][0]
    assert CDN_FILE.match(item["url"]) and item["url"].endswith(".png")
    assert "a cat in sunglasses" in item["revised_prompt"]
    png = httpx.get(item["url"]).content
    assert png_size(png) == (1792, 1024)

    r = client.post(
        "/images/generations",
        json={"prompt": "a dog", "n": 2, "size": "256x256", "response_format": "b64_json"},
    )
    images = [base64.b64decode(d["b64_json"]) for d in r.json()["data"]]
    assert [png_size(i) for i in images] == [(256, 256), (256, 256)]
    assert images[0] != images[1]
    other = client.post(
        "/images/generations",
        json={"prompt": "a horse", "size": "256x256", "response_format": "b64_json"},
    ).json()["data"][0]["b64_json"]
    assert base64.b64decode(other) != images[0]
    assert emu.counters["images"] == 3


@pytest.mark.parametrize(
    "body",
    [
        {"model": "dall-e-3", "prompt": "x", "n": 2},
        {"model": "dall-e-3", "prompt": "x", "size": "256x256"},
        {"prompt": "x", "size": "huge"},
        {"prompt": "x", "response_format": "gif"},
        {"size": "256x256"},
    ],
)
def test_images_validation(client: httpx.Client, body: dict) -> None:
    assert client.post("/images/generations", json=body).status_code == 400


def test_images_fail_trigger(client: httpx.Client) -> None:
    r = client.post("/images/generations", json={"prompt": "[fail] this"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "content_policy_violation"


# --- auth, errors, counters --------------------------------------------------------------------


def test_api_key_checked_and_echoed_in_full() -> None:
    key = "sk-emulator-secret-0123456789"
    wrong = "sk-wrong-key-abcdefghijklmnop"
    with serve(job_seconds=0.05, seed=1, api_key=key) as e:
        url = f"{e.base_url}/video/create"
        missing = httpx.post(url, json=unified_body())
        assert missing.status_code == 401
        assert missing.json()["error"]["type"] == "invalid_request_error"
        bad = httpx.post(url, json=unified_body(), headers={"Authorization": f"Bearer {wrong}"})
        assert bad.status_code == 401
        err = bad.json()["error"]
        assert err["code"] == "invalid_api_key"
        assert err["type"] == "invalid_request_error"
        assert f"Incorrect API key provided: {wrong}" in err["message"]  # hostile: full echo
        ok = httpx.post(url, json=unified_body(), headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200
        assert len(e.jobs) == 1
        assert e.counters["create"] == 3  # refused requests are counted too
        # The CDN never asks for a key.
        job = ok.json()["id"]
        time.sleep(0.1)
        q = httpx.get(
            f"{e.base_url}/video/query",
            params={"id": job},
            headers={"Authorization": f"Bearer {key}"},
        ).json()
        assert httpx.get(q["video_url"]).status_code == 200


def test_unknown_routes_and_methods(client: httpx.Client, emu: Emulator) -> None:
    for method, path in [("GET", "/nothing"), ("POST", "/videos/x/y/z"), ("GET", "/../v2/a")]:
        r = client.request(method, path)
        assert r.status_code == 404
        assert set(r.json()["error"]) >= {"message", "type", "code"}
    r = client.put("/videos")
    assert r.status_code == 405
    assert r.json()["error"]["message"]
    assert client.get("/models").json()["object"] == "list"
    assert emu.counters["other"] == 5


def test_counters_every_kind() -> None:
    with serve(job_seconds=0.05, seed=9) as e, httpx.Client(base_url=e.base_url) as c:
        jid = c.post("/video/create", json=unified_body()).json()["id"]
        vid = c.post("/videos", json={"prompt": "p"}).json()["id"]
        time.sleep(0.15)
        c.get("/video/query", params={"id": jid})
        c.get(f"/videos/{vid}")
        c.get(f"/videos/{vid}/content")
        c.get("/videos")
        c.post(f"/videos/{vid}/remix", json={"prompt": "r"})
        c.post(
            "/chat/completions",
            json={"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]},
        )
        c.post("/images/generations", json={"prompt": "p", "size": "256x256"})
        video_url = c.get("/video/query", params={"id": jid}).json()["video_url"]
        httpx.get(video_url)
        c.delete(f"/videos/{vid}")
        c.get("/dashboard/billing/usage")
        c.get("/elsewhere")
        counters = e.counters
        assert counters == {
            "create": 2, "poll": 3, "download": 1, "chat": 1, "images": 1, "list": 1,
            "delete": 1, "remix": 1, "cdn": 1, "billing": 1, "other": 1,
        }  # fmt: skip
        counters["create"] = 99
        assert e.counters["create"] == 2  # a copy
        assert [r.kind for r in e.requests][:2] == ["create", "create"]
        assert e.requests[0].method == "POST" and e.requests[0].path == "/v1/video/create"
        assert e.cdn_requests[0]["path"].endswith(".mp4")
        e.reset_counters()
        assert set(e.counters.values()) == {0}
        assert e.requests == [] and e.cdn_requests == []
