"""Dialect unified: /video/create and /video/query, every answer shape the relays document."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from sora_nb._exceptions import ProtocolError
from sora_nb.dialects import ImageFile, unified
from sora_nb.models import VideoRequest

IMAGE_URL = "https://filesystem.site/cdn/20250612/VfgB5ubjInVt8sG6rzMppxnu7gEfde.png"


def request(**kw):
    base = {
        "prompt": "make animate",
        "model": "sora-2",
        "orientation": "portrait",
        "size": "small",
        "duration": 10,
    }
    base.update(kw)
    return VideoRequest(**base)


# --- build ----------------------------------------------------------------------------------


def test_create_body_has_every_field_the_6ai_docs_name():
    http = unified.build_create(request(images=(IMAGE_URL,)), [IMAGE_URL])
    assert (http.method, http.path, http.kind) == ("POST", "video/create", "create")
    assert http.creates
    assert http.json == {
        "images": [IMAGE_URL],
        "model": "sora-2",
        "orientation": "portrait",
        "prompt": "make animate",
        "size": "small",
        "duration": 10,
    }
    assert http.params is None and http.data is None and http.files is None


def test_create_text_to_video_sends_empty_images_and_int_duration():
    http = unified.build_create(
        request(model="sora-2-pro", orientation="landscape", size="large", duration=15.0)
    )
    assert http.json["images"] == []
    assert http.json["duration"] == 15
    assert type(http.json["duration"]) is int
    # The body serialises the way the 6ai.chat docs' curl example does.
    assert json.loads(json.dumps(http.json)) == {
        "images": [],
        "model": "sora-2-pro",
        "orientation": "landscape",
        "prompt": "make animate",
        "size": "large",
        "duration": 15,
    }


def test_create_fractional_duration_kept():
    assert unified.build_create(request(duration=7.5)).json["duration"] == 7.5


def test_create_local_image_as_data_url():
    image = ImageFile("in.png", b"\x89PNG", "image/png")
    http = unified.build_create(request(), [image, IMAGE_URL])
    assert http.json["images"] == ["data:image/png;base64,iVBORw==", IMAGE_URL]


def test_create_extra_fields_pass_through():
    http = unified.build_create(request(extra={"watermark": False, "private": True}))
    assert http.json["watermark"] is False
    assert http.json["private"] is True
    assert http.json["model"] == "sora-2"


def test_query_puts_id_with_colon_in_params():
    job_id = "sora-2:task_01k6x15vhrff09dkkqjrzwhm60"
    http = unified.build_query(job_id)
    assert (http.method, http.path, http.kind) == ("GET", "video/query", "poll")
    assert http.params == {"id": job_id}
    assert ":" not in http.path and job_id not in http.path
    assert not http.creates


# --- parse: answers from the 6ai.chat and xiaojingai docs and other /video/query relays ----

CREATE_ANSWER = {
    "id": "sora-2:task_01k6x15vhrff09dkkqjrzwhm60",
    "status": "pending",
    "status_update_time": 1759763427208,
}

QUERY_PENDING = json.loads(
    """
{"id": "sora-2:task_01k6x15vhrff09dkkqjrzwhm60", "status": "pending",
 "status_update_time": 1759763621142, "video_url": null,
 "detail": {"id": "task_01k6x15vhrff09dkkqjrzwhm60", "status": "pending",
   "input": {"size": "small", "model": "sora-2", "images": [], "prompt": "make animate",
             "orientation": "portrait"},
   "pending_info": {"status": "processing", "progress_pct": 0.93, "failure_reason": null,
                    "moderation_result": {"type": "passed"}, "progress_pos_in_queue": null,
                    "estimated_queue_wait_time": null}}}
"""
)

QUERY_COMPLETED = {
    "id": "sora-2:task_01k6x15vhrff09dkkqjrzwhm60",
    "status": "completed",
    "status_update_time": 1759763721142,
    "video_url": "https://cdn.example/videos/task_01k6x15vhrff09dkkqjrzwhm60.mp4?sig=abc",
    "thumbnail_url": "https://cdn.example/thumbs/task_01k6x15vhrff09dkkqjrzwhm60.webp",
    "width": 720,
    "height": 1280,
    "enhanced_prompt": "A gentle animation of the still image",
    "detail": {
        "id": "task_01k6x15vhrff09dkkqjrzwhm60",
        "status": "completed",
        "url": "https://cdn.example/videos/detail.mp4",
        "gif_url": "https://cdn.example/gifs/x.gif",
        "input": {"size": "small", "model": "sora-2", "images": [], "prompt": "make animate"},
    },
}

SEED_000_CHAT_LIKE = {
    "id": "chatcmpl-123",
    "object": "chat.completion",
    "created": 1677652288,
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "生成动画的参数已配置,正在处理..."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21},
}


def test_parse_create_answer():
    job = unified.parse_job(CREATE_ANSWER, prompt="make animate", model="sora-2")
    assert job.id == "sora-2:task_01k6x15vhrff09dkkqjrzwhm60"
    assert job.status == "queued"
    assert not job.done
    assert job.dialect == "unified"
    assert job.progress is None
    assert job.updated_at == datetime(2025, 10, 6, 15, 10, 27, 208000, tzinfo=timezone.utc)
    assert job.prompt == "make animate" and job.model == "sora-2"
    assert job.raw is CREATE_ANSWER


def test_parse_query_pending_progress_fraction():
    job = unified.parse_job(QUERY_PENDING)
    assert job.id == "sora-2:task_01k6x15vhrff09dkkqjrzwhm60"
    assert job.progress == 93.0
    assert not job.done
    assert job.video_url is None
    assert job.error is None
    assert job.prompt == "make animate"
    assert job.model == "sora-2"
    assert job.updated_at == datetime(2025, 10, 6, 15, 13, 41, 142000, tzinfo=timezone.utc)


def test_parse_query_pending_processing_at_93_percent_is_in_progress():
    # Relays say "pending" until the end; the pending_info status and the progress tell more.
    job = unified.parse_job(QUERY_PENDING)
    assert job.status == "in_progress"


def test_parse_query_completed():
    job = unified.parse_job(QUERY_COMPLETED)
    assert job.status == "completed" and job.ok and job.done
    assert job.progress == 100.0
    assert job.video_url == QUERY_COMPLETED["video_url"]
    assert job.thumbnail_url == QUERY_COMPLETED["thumbnail_url"]
    assert (job.width, job.height) == (720, 1280)
    assert job.error is None


def test_parse_completed_with_only_detail_url_and_gif():
    body = {
        "id": "sora-2:task_x1",
        "status": "completed",
        "detail": {"url": "https://cdn.example/d.mp4", "gif_url": "https://cdn.example/d.gif"},
    }
    job = unified.parse_job(body)
    assert job.video_url == "https://cdn.example/d.mp4"
    assert job.thumbnail_url == "https://cdn.example/d.gif"


def test_parse_failed_string_error():
    body = {"id": "sora-2:task_x1", "status": "failed", "error": "content policy violation"}
    job = unified.parse_job(body)
    assert job.status == "failed" and job.done and not job.ok
    assert job.error == "content policy violation"


def test_parse_failed_object_error():
    body = {
        "id": "sora-2:task_x1",
        "status": "failed",
        "error": {"code": "moderation_blocked", "message": "The prompt was blocked"},
    }
    job = unified.parse_job(body)
    assert job.error == "The prompt was blocked (moderation_blocked)"


def test_parse_failed_only_failure_reason():
    body = {
        "id": "sora-2:task_x1",
        "status": "failed",
        "detail": {"pending_info": {"failure_reason": "upstream timeout", "progress_pct": 0.4}},
    }
    job = unified.parse_job(body)
    assert job.status == "failed"
    assert job.error == "upstream timeout"


def test_parse_failed_by_moderation_without_reason():
    body = {
        "id": "sora-2:task_x1",
        "status": "failed",
        "detail": {"pending_info": {"moderation_result": {"type": "blocked"}}},
    }
    assert unified.parse_job(body).error == "moderation: blocked"


def test_parse_failed_without_any_reason():
    assert unified.parse_job({"id": "sora-2:x1", "status": "failed"}).error is None


def test_parse_top_level_progress_wins_over_fraction():
    body = {
        "id": "x1",
        "status": "processing",
        "progress": 40,
        "detail": {"pending_info": {"progress_pct": 0.9}},
    }
    job = unified.parse_job(body)
    assert job.status == "in_progress"
    assert job.progress == 40.0


def test_parse_seconds_timestamp_and_unknown_status():
    job = unified.parse_job({"id": "x1", "status": "brewing", "status_update_time": 1759763427})
    assert job.status == "in_progress"
    assert job.updated_at == datetime(2025, 10, 6, 15, 10, 27, tzinfo=timezone.utc)


def test_parse_task_id_and_detail_status():
    job = unified.parse_job({"task_id": "t1", "detail": {"status": "succeeded"}})
    assert job.id == "t1"
    assert job.status == "completed"


def test_parse_the_6ai_docs_chat_like_answer():
    job = unified.parse_job(SEED_000_CHAT_LIKE, prompt="make animate", model="sora-2")
    assert job.id == "chatcmpl-123"
    assert job.dialect == "unified"
    assert not job.done  # "正在处理" (processing): the job is still running
    assert job.status in ("queued", "in_progress")
    assert job.video_url is None
    assert job.raw is SEED_000_CHAT_LIKE
    assert job.prompt == "make animate"


def test_parse_chat_like_answer_carrying_task_and_link():
    content = (
        "> ID: `task_01k7e5w9qq1234`\n>🏃 进度 81%\n> 生成完成 ✅\n"
        "[在线播放▶️](https://filesystem.site/cdn/20251013/abc.mp4)"
    )
    body = {**SEED_000_CHAT_LIKE, "choices": [{"index": 0, "message": {"content": content}}]}
    job = unified.parse_job(body)
    assert job.id == "task_01k7e5w9qq1234"
    assert job.status == "completed"
    assert job.video_url == "https://filesystem.site/cdn/20251013/abc.mp4"


def test_parse_chat_like_answer_with_progress_only():
    content = "> ID: `task_01k7e5w9qq1234`\n>🏃 进度 36%\n"
    body = {**SEED_000_CHAT_LIKE, "choices": [{"index": 0, "message": {"content": content}}]}
    job = unified.parse_job(body)
    assert job.status == "in_progress"
    assert job.progress == 36.0
    assert job.id == "task_01k7e5w9qq1234"


@pytest.mark.parametrize("body", [None, [], "text", 42])
def test_parse_non_object(body):
    with pytest.raises(ProtocolError):
        unified.parse_job(body)


def test_parse_without_id():
    with pytest.raises(ProtocolError, match="id"):
        unified.parse_job({"status": "pending"})


def test_parse_odd_field_types_tolerated():
    body = {
        "id": 12345,
        "status": None,
        "video_url": {"not": "a url"},
        "width": "720",
        "height": True,
        "detail": "not an object",
    }
    job = unified.parse_job(body)
    assert job.id == "12345"
    assert job.status == "in_progress"
    assert job.video_url is None
    assert job.width == 720 and job.height is None
