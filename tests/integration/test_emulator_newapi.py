"""new-api's routes on the emulator (QuantumNous/new-api), over loopback with raw httpx: the task
family, its /v1/videos flavour, the content proxy, unknown routes vs unknown ids, the 403 quota,
billing, and the `families` knob."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from sora_nb.emulator import Emulator, Fault, serve
from tests.emulator_fixtures import probe_mp4, unified_body

pytestmark = pytest.mark.timeout(60)

TASK_ID = re.compile(r"^task_[0-9A-Za-z]{32}$")  # model.GenerateTaskID


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with serve(job_seconds=0.3, concurrency=8, seed=31) as e:
        yield e


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> None:
    if "emu" in request.fixturenames:
        e = request.getfixturevalue("emu")
        e.clear_faults()
        e.reset_counters()
        e.set(newapi_legacy_link=False, videos_flavor="openai")


@pytest.fixture
def client(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url, timeout=10) as c:
        yield c


def origin(e: Emulator) -> str:
    return e.base_url.removesuffix("/v1")


def poll_until_done(client: httpx.Client, task_id: str, timeout: float = 10) -> list[dict]:
    answers = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/video/generations/{task_id}")
        assert r.status_code == 200, r.text
        answers.append(r.json())
        if answers[-1]["data"]["status"] in ("SUCCESS", "FAILURE"):
            return answers
        time.sleep(0.02)
    raise AssertionError(f"{task_id} did not finish: {answers[-1]}")


# --- the task family ---------------------------------------------------------------------------


def test_create_answers_the_unwrapped_openai_video(emu: Emulator, client: httpx.Client) -> None:
    r = client.post("/video/generations", json={"model": "kling-v1", "prompt": "a red fox"})
    assert r.status_code == 200
    body = r.json()
    # kling adaptor DoResponse: dto.NewOpenAIVideo() with id == task_id, no envelope.
    assert list(body) == ["id", "task_id", "object", "model", "status", "progress", "created_at"]
    assert TASK_ID.match(body["id"]) and body["task_id"] == body["id"]
    assert (body["object"], body["model"], body["status"], body["progress"]) == (
        "video",
        "kling-v1",
        "queued",
        0,
    )
    assert "x-new-api-other-ratios" not in r.headers
    assert emu.jobs[body["id"]].dialect == "newapi"
    # sora: the upstream object (seconds, size) and the price ratios header.
    sora = client.post(
        "/video/generations", json={"model": "sora-2", "prompt": "a dog", "seconds": "8"}
    )
    assert (sora.json()["seconds"], sora.json()["size"]) == ("8", "720x1280")
    assert sora.headers["x-new-api-other-ratios"] == '{"seconds":8,"size":1}'
    assert emu.counters["create"] == 2


def test_create_takes_reference_images_as_new_api_does(emu: Emulator, client: httpx.Client) -> None:
    # TaskSubmitReq: `images`, or one `image`, or `input_reference`; metadata as a JSON string.
    one = client.post(
        "/video/generations",
        json={"model": "kling-v1", "prompt": "p", "image": "https://x/a.png", "duration": "10"},
    ).json()
    assert emu.jobs[one["id"]].params["images"] == ["https://x/a.png"]
    assert emu.jobs[one["id"]].seconds == 10
    many = client.post(
        "/video/generations",
        json={
            "model": "vidu-q1",
            "prompt": "p",
            "images": ["https://x/a.png", "https://x/b.png"],
            "metadata": '{"negative_prompt": "blur"}',
        },
    ).json()
    params = emu.jobs[many["id"]].params
    assert params["images"] == ["https://x/a.png", "https://x/b.png"]
    assert params["metadata"] == {"negative_prompt": "blur"}
    ref = client.post(
        "/video/generations",
        json={"model": "sora-2", "prompt": "p", "input_reference": "data:image/png;base64,AAAA"},
    ).json()
    assert emu.jobs[ref["id"]].params["images"] == ["data:image/png;base64,AAAA"]
    polled = client.get(f"/video/generations/{one['id']}").json()["data"]
    assert polled["action"] == "generate"  # constant.TaskActionGenerate with an image


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"model": "kling-v1", "prompt": "  "}, "invalid_request", "prompt is required"),
        ({"prompt": "p"}, "missing_model", "model field is required"),
        (
            {"model": "sora-2", "prompt": "p", "size": "1792x1024"},
            "invalid_size",
            "sora-2 size is invalid",
        ),
    ],
)
def test_create_errors_are_task_errors(
    emu: Emulator, client: httpx.Client, body: dict, code: str, message: str
) -> None:
    # relay/common/relay_utils.go, answered as dto.TaskError.
    before = len(emu.jobs)
    r = client.post("/video/generations", json=body)
    assert r.status_code == 400
    assert r.json() == {"code": code, "message": message, "data": None}
    assert len(emu.jobs) == before  # nothing half-created
    bad_json = client.post(
        "/video/generations", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400 and bad_json.json()["code"] == "invalid_request"


def test_poll_envelope_and_status_progression() -> None:
    # One slot: the second task waits (NOT_START), then waits upstream (QUEUED), renders, ends.
    with (
        serve(job_seconds=0.4, concurrency=1, seed=4, progress_profile="queue_jumps") as e,
        httpx.Client(base_url=e.base_url, timeout=10) as c,
    ):
        c.post("/video/generations", json={"model": "kling-v1", "prompt": "first"})
        task = c.post("/video/generations", json={"model": "kling-v1", "prompt": "second"})
        answers = poll_until_done(c, task.json()["id"])
        for answer in answers:
            # dto/task.go TaskResponse: code "success", message always there.
            assert (answer["code"], answer["message"]) == ("success", "")
        data = [a["data"] for a in answers]
        seen = []
        for d in data:
            step = (d["status"], d["progress"])
            if not seen or seen[-1] != step:
                seen.append(step)
        assert seen == [
            ("NOT_START", "0%"),
            ("QUEUED", "20%"),
            ("IN_PROGRESS", "30%"),
            ("SUCCESS", "100%"),
        ]
        last = data[-1]
        assert set(last) == {
            "id", "created_at", "updated_at", "task_id", "platform", "user_id", "group",
            "channel_id", "quota", "action", "status", "fail_reason", "result_url",
            "submit_time", "start_time", "finish_time", "progress", "properties", "data",
        }  # fmt: skip
        assert (last["id"], last["platform"], last["action"]) == (2, "50", "textGenerate")
        assert last["fail_reason"] == "" and last["data"] is None
        assert last["submit_time"] <= last["start_time"] <= last["finish_time"]
        assert all("result_url" not in d for d in data[:-1])  # omitempty until done
        # The upstream's direct link (here the CDN origin) for non-Sora platforms.
        assert last["result_url"].startswith(e.cdn_url + "/cdn/")
        assert probe_mp4(httpx.get(last["result_url"]).content).codec == "h264"
        assert e.counters["create"] == 2 and e.counters["poll"] == len(answers)


def test_sora_task_links_to_the_content_proxy(emu: Emulator, client: httpx.Client) -> None:
    tid = client.post("/video/generations", json={"model": "sora-2", "prompt": "waves"}).json()[
        "id"
    ]
    early = client.get(f"/videos/{tid}/content")
    # controller/video_proxy.go: not done is 400, OpenAI-ish without code.
    assert early.status_code == 400
    assert set(early.json()["error"]) == {"message", "type"}
    assert early.json()["error"]["type"] == "invalid_request_error"
    assert re.fullmatch(
        r"Task is not completed yet, current status: (NOT_START|QUEUED|IN_PROGRESS)",
        early.json()["error"]["message"],
    )
    data = poll_until_done(client, tid)[-1]["data"]
    # BuildProxyURL: "%s/v1/videos/%s/content" on the relay's own address.
    assert data["result_url"] == f"{origin(emu)}/v1/videos/{tid}/content"
    # The raw upstream JSON: Sora's video object.
    assert (data["data"]["object"], data["data"]["status"]) == ("video", "completed")
    assert data["platform"] == "55"
    whole = httpx.get(data["result_url"], timeout=10)
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["cache-control"] == "public, max-age=86400"
    assert probe_mp4(whole.content).codec == "h264"
    part = httpx.get(data["result_url"], headers={"Range": "bytes=0-99"}, timeout=10)
    assert part.status_code == 206 and part.content == whole.content[:100]


def test_failed_task_and_legacy_link(emu: Emulator, client: httpx.Client) -> None:
    bad = client.post("/video/generations", json={"model": "kling-v1", "prompt": "x [fail]"})
    data = poll_until_done(client, bad.json()["id"])[-1]["data"]
    assert (data["status"], data["progress"]) == ("FAILURE", "100%")
    assert "content policy" in data["fail_reason"]
    assert data["result_url"] == data["fail_reason"]  # GetResultURL's fallback
    emu.set(newapi_legacy_link=True)
    good = client.post("/video/generations", json={"model": "kling-v1", "prompt": "ok"})
    done = poll_until_done(client, good.json()["id"])[-1]["data"]
    assert done["fail_reason"] == done["result_url"]
    assert done["fail_reason"].endswith(".mp4")


# --- unknown routes vs unknown ids ----------------------------------------------------------


def test_probe_tells_missing_route_from_missing_id(emu: Emulator, client: httpx.Client) -> None:
    jobs_before = len(emu.jobs)
    missing_id = client.get("/video/generations/task_nope")
    # relay/relay_task.go: an unknown task is 400, not 404.
    assert missing_id.status_code == 400
    assert missing_id.json() == {
        "code": "task_not_exist",
        "message": "task_not_exist",
        "data": None,
    }
    missing_route = client.post("/tasks/submit", json={"model": "x"})
    # controller/relay.go RelayNotFound.
    assert missing_route.status_code == 404
    assert missing_route.json() == {
        "error": {
            "message": "Invalid URL (POST /v1/tasks/submit)",
            "type": "invalid_request_error",
            "param": "",
            "code": "",
        }
    }
    # OpenAI's own 404 on /v1/videos/{id} stays in the default flavour.
    openai_404 = client.get("/videos/video_nope")
    assert openai_404.status_code == 404 and openai_404.json()["error"]["code"] == "not_found"
    # Jobs of other families are no new-api tasks.
    unified_id = client.post("/video/create", json=unified_body()).json()["id"]
    assert client.get(f"/video/generations/{unified_id}").status_code == 400
    counters = emu.counters  # the probes created nothing; only the unified create did
    assert counters["create"] == 1 and counters["poll"] == 3 and counters["other"] == 1
    assert len(emu.jobs) == jobs_before + 1


def test_families_knob_stands_up_a_new_api_only_relay() -> None:
    with (
        serve(job_seconds=0.2, seed=6, families=("tasks", "billing")) as e,
        httpx.Client(base_url=e.base_url, timeout=10) as c,
    ):
        for method, path in [
            ("POST", "/video/create"),
            ("GET", "/video/query"),
            ("POST", "/chat/completions"),
            ("GET", "/models"),
            ("POST", "/videos"),
            ("GET", "/videos/x"),
        ]:
            r = c.request(method, path, json={"prompt": "p"})
            assert r.status_code == 404, (method, path)
            assert r.json()["error"]["message"] == f"Invalid URL ({method} /v1{path})"
        assert len(e.jobs) == 0
        assert e.counters["create"] == 0 and e.counters["other"] == 6
        tid = c.post("/video/generations", json={"model": "kling-v1", "prompt": "p"}).json()["id"]
        # Without OpenAI's family, /content is new-api's proxy: its own 404 for unknown ids.
        gone = c.get("/videos/task_nope/content")
        assert gone.status_code == 404
        assert gone.json() == {
            "error": {"message": "Task not found", "type": "invalid_request_error"}
        }
        data = poll_until_done(c, tid)[-1]["data"]
        assert c.get(f"/videos/{tid}/content").status_code == 200
        assert data["status"] == "SUCCESS"
        e.set(families=("unified",))  # at runtime too
        assert c.post("/video/generations", json={"model": "k", "prompt": "p"}).status_code == 404
        assert c.post("/video/create", json=unified_body()).status_code == 200


# --- new-api's flavour of /v1/videos -----------------------------------------------------------


def test_videos_flavor_newapi_for_non_sora_models() -> None:
    with (
        serve(job_seconds=0.3, concurrency=1, seed=8, videos_flavor="newapi") as e,
        httpx.Client(base_url=e.base_url, timeout=10) as c,
    ):
        c.post("/videos", json={"model": "kling-v1", "prompt": "hold the slot"})
        created = c.post("/videos", json={"model": "kling-v1", "prompt": "a kite"})
        assert created.status_code == 200 and TASK_ID.match(created.json()["task_id"])
        vid = created.json()["id"]
        waiting = c.get(f"/videos/{vid}").json()
        # kling ConvertToOpenAIVideo: model "", "unknown" until it starts, ms timestamps.
        assert (waiting["status"], waiting["model"], waiting["progress"]) == ("unknown", "", 0)
        assert waiting["created_at"] > 10**12
        assert "metadata" not in waiting
        deadline = time.monotonic() + 10
        while (obj := c.get(f"/videos/{vid}").json())["status"] != "completed":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert obj["metadata"]["url"].startswith(e.cdn_url) and obj["seconds"] == "5"
        assert httpx.get(obj["metadata"]["url"]).status_code == 200
        # Other platforms (model/task.go ToOpenAIVideo): the model named, metadata.url always.
        other = c.post("/videos", json={"model": "vidu-q1", "prompt": "p"}).json()
        generic = c.get(f"/videos/{other['id']}").json()
        assert generic["model"] == "vidu-q1" and generic["metadata"] == {"url": ""}
        # Unrouted in router/video-router.go, and unknown ids are task errors.
        assert c.get("/videos").status_code == 404
        assert c.delete(f"/videos/{vid}").status_code == 404
        assert c.get("/videos/nope").json() == {
            "code": "task_not_exist",
            "message": "task_not_exist",
            "data": None,
        }
        remix = c.post("/videos/nope/remix", json={"prompt": "again"})
        assert remix.status_code == 400 and remix.json()["message"] == "task_origin_not_exist"
        assert c.get("/videos/nope/content").json()["error"]["message"] == "Task not found"
        # Both routes fetch the same task.
        assert c.get(f"/video/generations/{vid}").json()["data"]["status"] == "SUCCESS"
        assert e.counters["list"] == 0 and e.counters["delete"] == 0 and e.counters["other"] == 2


# --- empty balance and billing ----------------------------------------------------------------


def test_quota_fault_newapi_style_is_403(emu: Emulator, client: httpx.Client) -> None:
    jobs_before = len(emu.jobs)
    emu.add_fault(Fault(kind="create", action="quota", style="newapi", times=1))
    r = client.post("/video/generations", json={"model": "kling-v1", "prompt": "p"})
    # service/billing_session.go + TaskErrorFromAPIError on task routes.
    assert r.status_code == 403
    assert r.json() == {
        "code": "insufficient_user_quota",
        "message": "用户额度不足, 剩余额度: ＄0.000000",
        "data": None,
    }
    assert len(emu.jobs) == jobs_before and emu.counters_429["create"] == 0
    emu.add_fault(Fault(kind="chat", action="quota", style="newapi", times=1))
    chat = client.post(
        "/chat/completions", json={"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]}
    )
    # Relay routes: {"error": …} with the request id appended (controller/relay.go Relay()).
    assert chat.status_code == 403
    error = chat.json()["error"]
    assert (error["type"], error["code"]) == ("new_api_error", "insufficient_user_quota")
    assert re.fullmatch(
        r"用户额度不足, 剩余额度: ＄0\.000000 \(request id: \d{15,}\w{8}\)", error["message"]
    )
    assert client.post("/video/generations", json={"model": "k", "prompt": "p"}).status_code == 200


def test_billing_routes(emu: Emulator, client: httpx.Client) -> None:
    sub = client.get("/dashboard/billing/subscription")
    assert sub.status_code == 200
    assert sub.json() == {
        "object": "billing_subscription",
        "has_payment_method": True,
        "soft_limit_usd": 25,
        "hard_limit_usd": 25,
        "system_hard_limit_usd": 25,
        "access_until": 0,
    }
    assert client.get("/dashboard/billing/usage").json() == {"object": "list", "total_usage": 0}
    emu.set(billing_granted=12.5, billing_used=3.5)
    try:
        assert client.get("/dashboard/billing/subscription").json()["hard_limit_usd"] == 12.5
        # Cents, and the dates are ignored (controller/billing.go GetUsage).
        usage = client.get(
            "/dashboard/billing/usage",
            params={"start_date": "2025-01-01", "end_date": "2025-01-02"},
        )
        assert usage.json() == {"object": "list", "total_usage": 350}
        # router/dashboard.go also serves the spelling without /v1.
        plain = httpx.get(f"{origin(emu)}/dashboard/billing/usage")
        assert plain.json()["total_usage"] == 350
        emu.set(billing_granted=None)
        assert client.get("/dashboard/billing/subscription").json()["hard_limit_usd"] == 100000000
    finally:
        emu.set(billing_granted=25.0, billing_used=0.0)
    assert emu.counters["billing"] == 6 and emu.counters["create"] == 0
