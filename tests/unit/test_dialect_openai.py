"""Dialect openai: /videos as OpenAI's Videos API and the st-ai gateway (api.sora2.pub) speak it."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import httpx
import pytest

from sora_nb._exceptions import ProtocolError, ValidationError
from sora_nb.dialects import ImageFile, openai
from sora_nb.models import VideoRequest


def request(**kw):
    base = {"prompt": "a cat on a skateboard", "model": "sora-2"}
    base.update(kw)
    return VideoRequest(**base)


# --- build ----------------------------------------------------------------------------------


def test_create_json_seconds_as_string():
    http = openai.build_create(request(size="1280x720", duration=8.0))
    assert (http.method, http.path, http.kind) == ("POST", "videos", "create")
    assert http.creates
    assert http.json == {
        "prompt": "a cat on a skateboard",
        "model": "sora-2",
        "seconds": "8",
        "size": "1280x720",
    }
    assert http.files is None and http.data is None


def test_create_fractional_seconds_text():
    assert openai.build_create(request(duration=7.5)).json["seconds"] == "7.5"


def test_create_minimal_omits_unset_fields():
    http = openai.build_create(request())
    assert http.json == {"prompt": "a cat on a skateboard", "model": "sora-2"}


def test_create_url_image_as_input_reference():
    http = openai.build_create(request(), ["https://x.example/in.png"])
    assert http.json["input_reference"] == {"image_url": "https://x.example/in.png"}


def test_create_local_image_is_multipart():
    image = ImageFile("in.png", b"\x89PNG\r\n", "image/png")
    http = openai.build_create(request(size="720x1280", duration=4, extra={"n": 1}), [image])
    assert http.json is None
    assert http.data == {
        "prompt": "a cat on a skateboard",
        "model": "sora-2",
        "seconds": "4",
        "size": "720x1280",
        "n": "1",
    }
    assert all(isinstance(v, str) for v in http.data.values())
    assert http.files == {"input_reference": ("in.png", b"\x89PNG\r\n", "image/png")}
    # The image bytes stay out of the request's repr.
    assert "PNG" not in repr(http)


def test_create_multipart_encodes_with_httpx():
    image = ImageFile("in.jpg", b"JPEGDATA", "image/jpeg")
    http = openai.build_create(request(duration=12), [image])
    built = httpx.Request(
        http.method, f"https://relay.example/v1/{http.path}", data=http.data, files=http.files
    )
    body = built.read()
    assert built.headers["content-type"].startswith("multipart/form-data")
    assert b'name="seconds"\r\n\r\n12' in body
    assert b'name="input_reference"; filename="in.jpg"' in body
    assert b"JPEGDATA" in body


def test_create_rejects_two_images():
    with pytest.raises(ValidationError, match="one reference image"):
        openai.build_create(request(), ["https://a/1.png", "https://a/2.png"])


def test_create_st_ai_extra_fields():
    http = openai.build_create(
        request(model="kling-v1", extra={"width": 1280, "height": 720, "fps": 30, "metadata": {}})
    )
    assert http.json["width"] == 1280 and http.json["fps"] == 30
    assert http.json["metadata"] == {}


@pytest.mark.parametrize(
    ("job_id", "encoded"),
    [
        ("video_68d7512d", "video_68d7512d"),
        ("a/b:c", "a%2Fb%3Ac"),
        ("sora-2:task_01k6x15vhrff09dkkqjrzwhm60", "sora-2%3Atask_01k6x15vhrff09dkkqjrzwhm60"),
        ("x y?z#w", "x%20y%3Fz%23w"),
        ("../admin", "..%2Fadmin"),
    ],
)
def test_ids_are_path_encoded(job_id, encoded):
    assert openai.build_retrieve(job_id).path == f"videos/{encoded}"
    assert openai.build_content(job_id).path == f"videos/{encoded}/content"
    assert openai.build_delete(job_id).path == f"videos/{encoded}"
    assert openai.build_remix(job_id, "again").path == f"videos/{encoded}/remix"


def test_retrieve():
    http = openai.build_retrieve("video_1")
    assert (http.method, http.kind, http.params, http.json) == ("GET", "poll", None, None)
    assert not http.creates


@pytest.mark.parametrize("variant", ["video", "thumbnail", "spritesheet"])
def test_content_variants(variant):
    http = openai.build_content("video_1", variant)
    assert (http.method, http.kind) == ("GET", "content")
    assert http.params == {"variant": variant}


def test_content_default_variant_and_bad_variant():
    assert openai.build_content("video_1").params == {"variant": "video"}
    with pytest.raises(ValidationError) as info:
        openai.build_content("video_1", "poster")
    assert "video, thumbnail, spritesheet" in str(info.value)


def test_list_params():
    assert openai.build_list().params == {}
    http = openai.build_list(after="video_9", limit=20, order="desc")
    assert (http.method, http.path, http.kind) == ("GET", "videos", "list")
    assert http.params == {"after": "video_9", "limit": 20, "order": "desc"}
    assert openai.build_list(limit=5).params == {"limit": 5}
    with pytest.raises(ValidationError):
        openai.build_list(order="newest")


def test_delete():
    http = openai.build_delete("video_1")
    assert (http.method, http.path, http.kind) == ("DELETE", "videos/video_1", "delete")
    assert not http.creates


def test_remix():
    http = openai.build_remix("video_1", "make it night")
    assert (http.method, http.kind) == ("POST", "remix")
    assert http.json == {"prompt": "make it night"}
    assert http.creates
    for prompt in ("", "   "):
        with pytest.raises(ValidationError):
            openai.build_remix("video_1", prompt)


# --- poll hint ------------------------------------------------------------------------------


def test_poll_hint():
    assert openai.poll_hint({"openai-poll-after-ms": "2500"}) == 2.5
    assert openai.poll_hint(httpx.Headers({"OpenAI-Poll-After-Ms": "10000"})) == 10.0
    assert openai.poll_hint({"openai-poll-after-ms": "0"}) == 0.0
    for headers in (None, {}, {"openai-poll-after-ms": "soon"}, {"openai-poll-after-ms": "-5"}):
        assert openai.poll_hint(headers) is None


# --- parse: OpenAI video objects ------------------------------------------------------------

OPENAI_IN_PROGRESS = {
    "id": "video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5",
    "object": "video",
    "model": "sora-2",
    "status": "in_progress",
    "progress": 33,
    "created_at": 1758941485,
    "completed_at": None,
    "expires_at": None,
    "seconds": "8",
    "size": "1280x720",
    "prompt": "a cat on a skateboard",
    "remixed_from_video_id": None,
    "error": None,
}


def test_parse_openai_in_progress_with_hint():
    job = openai.parse_job(OPENAI_IN_PROGRESS, {"openai-poll-after-ms": "5000"})
    assert job.id == OPENAI_IN_PROGRESS["id"]
    assert job.status == "in_progress"
    assert job.progress == 33.0
    assert job.dialect == "openai"
    assert job.model == "sora-2"
    assert job.prompt == "a cat on a skateboard"
    assert job.seconds == 8.0
    assert (job.width, job.height) == (1280, 720)
    assert job.created_at == datetime(2025, 9, 27, 2, 51, 25, tzinfo=timezone.utc)
    assert job.updated_at is None
    assert job.error is None
    assert job.poll_after == 5.0


def test_parse_openai_completed():
    body = {
        **OPENAI_IN_PROGRESS,
        "status": "completed",
        "progress": 100,
        "completed_at": 1758941585,
        "expires_at": 1759027985,
    }
    job = openai.parse_job(body)
    assert job.ok and job.progress == 100.0
    assert job.updated_at == datetime(2025, 9, 27, 2, 53, 5, tzinfo=timezone.utc)
    assert job.video_url is None  # OpenAI serves the bytes at /content
    assert job.poll_after is None


def test_parse_openai_failed_error_object():
    body = {
        **OPENAI_IN_PROGRESS,
        "status": "failed",
        "error": {"code": "moderation_blocked", "message": "Your request was blocked."},
    }
    job = openai.parse_job(body)
    assert job.status == "failed"
    assert job.error == "Your request was blocked. (moderation_blocked)"


def test_parse_openai_progress_forced_to_100_when_completed():
    job = openai.parse_job({"id": "v1", "status": "completed", "progress": 97})
    assert job.progress == 100.0


# --- parse: st-ai (the st-ai gateway's API docs, api.sora2.pub) -----------------------------


def test_parse_st_ai_create_answer():
    job = openai.parse_job(json.loads('{"task_id": "abcd1234efgh", "status": "queued"}'))
    assert job.id == "abcd1234efgh"
    assert job.status == "queued"
    assert job.progress is None


def test_parse_st_ai_in_progress():
    body = {
        "id": "abcd1234efgh",
        "object": "video",
        "model": "kling-v1",
        "status": "in_progress",
        "progress": 65,
        "created_at": 1677652288,
    }
    job = openai.parse_job(body)
    assert (job.status, job.progress, job.model) == ("in_progress", 65.0, "kling-v1")
    assert job.created_at == datetime(2023, 3, 1, 6, 31, 28, tzinfo=timezone.utc)


def test_parse_st_ai_completed_with_metadata():
    body = {
        "id": "abcd1234efgh",
        "object": "video",
        "model": "kling-v1",
        "status": "completed",
        "progress": 100,
        "created_at": 1677652288,
        "completed_at": 1677652388,
        "metadata": {"duration": 5.0, "fps": 30, "width": 1280, "height": 720},
    }
    job = openai.parse_job(body)
    assert job.ok
    assert (job.width, job.height) == (1280, 720)
    assert job.seconds == 5.0
    assert job.updated_at == datetime(2023, 3, 1, 6, 33, 8, tzinfo=timezone.utc)


def test_parse_st_ai_failed_with_error_message():
    body = {"id": "abcd1234efgh", "status": "failed", "error": {"message": "未知错误"}}
    assert openai.parse_job(body).error == "未知错误"


def test_parse_video_url_field_when_gateway_sends_one():
    body = {"id": "v1", "status": "completed", "video_url": "https://cdn.example/v1.mp4"}
    assert openai.parse_job(body).video_url == "https://cdn.example/v1.mp4"


def test_parse_fallback_model_and_prompt():
    job = openai.parse_job({"id": "v1", "status": "queued"}, prompt="p", model="m")
    assert (job.prompt, job.model) == ("p", "m")


@pytest.mark.parametrize("body", [None, [], "x", 1])
def test_parse_non_object(body):
    with pytest.raises(ProtocolError):
        openai.parse_job(body)


def test_parse_without_id():
    with pytest.raises(ProtocolError):
        openai.parse_job({"status": "queued"})


# --- list -----------------------------------------------------------------------------------


def _item(n, status="completed"):
    return {"id": f"video_{n}", "object": "video", "status": status, "progress": 100}


def test_parse_list_with_cursor():
    body = {"object": "list", "data": [_item(1), _item(2)], "has_more": True, "last_id": "video_2"}
    jobs, cursor = openai.parse_list(body)
    assert [j.id for j in jobs] == ["video_1", "video_2"]
    assert cursor == "video_2"


def test_parse_list_cursor_from_last_item():
    jobs, cursor = openai.parse_list({"data": [_item(1), _item(3, "queued")], "has_more": True})
    assert cursor == "video_3"
    assert jobs[1].status == "queued"


def test_parse_list_last_page():
    body = {"object": "list", "data": [_item(1)], "has_more": False, "last_id": "video_1"}
    assert openai.parse_list(body)[1] is None
    assert openai.parse_list({"data": []}) == ([], None)
    assert openai.parse_list({"data": [], "has_more": True}) == ([], None)


def test_parse_list_skips_junk_items():
    jobs, _ = openai.parse_list({"data": [_item(1), "junk", None]})
    assert [j.id for j in jobs] == ["video_1"]


@pytest.mark.parametrize("body", [None, {}, {"data": {}}, {"data": "x"}, []])
def test_parse_list_bad(body):
    with pytest.raises(ProtocolError):
        openai.parse_list(body)


def test_new_api_non_sora_objects_keep_the_link_in_metadata_url():
    # QuantumNous/new-api relay/channel/task/kling/adaptor.go ConvertToOpenAIVideo: status from
    # ToVideoStatus() ("unknown" before the first poll), model "" (never set), progress an int,
    # the link in metadata.url (SetMetadata("url", video.Url)), which may be "".
    waiting = openai.parse_job(
        {
            "id": "task_x",
            "object": "video",
            "model": "",
            "status": "unknown",
            "progress": 0,
            "metadata": {"url": ""},
        },
        model="kling-v1",
    )
    assert waiting.status == "in_progress" and waiting.video_url is None
    assert waiting.model == "kling-v1"  # the request's, not ""
    done = openai.parse_job(
        {
            "id": "task_x",
            "object": "video",
            "model": "",
            "status": "completed",
            "progress": 100,
            "created_at": 1760000000123,  # kling's native milliseconds
            "seconds": "5",
            "metadata": {"url": "https://k.example/v.mp4"},
        }
    )
    assert done.video_url == "https://k.example/v.mp4" and done.seconds == 5.0
    assert done.created_at.year == 2025
    # A failure text where a link would be (model.Task ToOpenAIVideo's FailReason fallback).
    odd = openai.parse_job(
        {"id": "t", "status": "failed", "metadata": {"url": "upstream error 500"}}
    )
    assert odd.video_url is None


def test_videos_json_sends_the_reference_as_a_string():
    # DouDOU-start/go-sora2api server/model/dto.go: InputReference string `json:"input_reference"`
    # ("URL 或 base64 data URI"), JSON only (ShouldBindJSON).
    from sora_nb import dialects

    bridge = dialects.get("videos-json")
    url = bridge.build_create(request(), ["https://x.example/in.png"])
    assert url.json["input_reference"] == "https://x.example/in.png" and url.files is None
    local = bridge.build_create(request(), [ImageFile("in.png", b"\x89PNG\r\n", "image/png")])
    assert local.files is None and local.data is None
    assert local.json["input_reference"].startswith("data:image/png;base64,")
    # OpenAI's own API: a URL as a reference object, a file as a multipart upload.
    assert openai.build_create(request(), ["https://x/in.png"]).json["input_reference"] == {
        "image_url": "https://x/in.png"
    }
