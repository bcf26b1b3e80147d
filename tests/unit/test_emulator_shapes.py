"""The emulator's answers as pure functions of a job's values, without a server.

Fields are those PROTOCOLS.md and the seeds name; the wire tests over sockets are in
tests/integration/test_emulator_shapes.py.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import pytest

from sora_nb.emulator.chat_text import TEMPLATES
from sora_nb.emulator.jobs import JobView
from sora_nb.emulator.shapes import chat, errors, images, models, openai, stai, unified
from sora_nb.emulator.shapes.links import media_url

CDN = "http://127.0.0.1:9999"
CREATED = 1759763427.208  # wall-clock seconds (seed 000's status_update_time, in seconds)


def view(**changes: Any) -> JobView:
    base: dict[str, Any] = {
        "id": "sora-2:task_01k6x15vhrff09dkkqjrzwhm60",
        "dialect": "unified",
        "model": "sora-2",
        "prompt": "make animate",
        "width": 720,
        "height": 1280,
        "seconds": 10.0,
        "orientation": "portrait",
        "params": {
            "images": [],
            "model": "sora-2",
            "orientation": "portrait",
            "prompt": "make animate",
            "size": "small",
            "duration": 10,
        },
        "token": "VfgB5ubjInVt8sG6rzMppxnu7gEfde",
        "date": "20251006",
        "fail_reason": None,
        "remixed_from": None,
        "status": "in_progress",
        "progress": 0.45678,
        "queue_position": None,
        "queue_wait": None,
        "created_at": CREATED,
        "changed_at": CREATED + 3.5,
        "ended_at": None,
    }
    base.update(changes)
    return JobView(**base)


def done(**changes: Any) -> JobView:
    return view(status="completed", progress=1.0, ended_at=CREATED + 42.9, **changes)


def failed(reason: str, **changes: Any) -> JobView:
    return view(status="failed", progress=0.5, fail_reason=reason, ended_at=CREATED + 5, **changes)


# --- links -----------------------------------------------------------------------------------


def test_media_url_is_a_dated_cdn_path():
    url = media_url(CDN, "20251006", "abc", "mp4")
    assert url == "http://127.0.0.1:9999/cdn/20251006/abc.mp4"


# --- unified (seed 000, PROTOCOLS.md "Dialect unified") ----------------------------------------


def test_unified_create_answer_is_id_pending_and_milliseconds():
    assert unified.create_answer(view(status="queued", progress=0.0)) == {
        "id": "sora-2:task_01k6x15vhrff09dkkqjrzwhm60",
        "status": "pending",
        "status_update_time": 1759763427208,
    }


def test_unified_query_running_has_progress_pct_in_0_1_and_no_video_url():
    answer = unified.query_answer(view(), CDN)
    assert answer["status"] == "processing"
    assert answer["video_url"] is None
    assert answer["status_update_time"] == int((CREATED + 3.5) * 1000)
    detail = answer["detail"]
    assert detail["id"] == "task_01k6x15vhrff09dkkqjrzwhm60"  # the upstream id, no model prefix
    assert detail["status"] == "processing"
    info = detail["pending_info"]
    assert info["status"] == "processing"
    assert info["progress_pct"] == 0.4568
    assert 0 <= info["progress_pct"] <= 1
    assert info["failure_reason"] is None
    assert info["moderation_result"] == {"type": "passed"}
    assert detail["input"] == {
        "size": "small",
        "model": "sora-2",
        "images": [],
        "prompt": "make animate",
        "orientation": "portrait",
        "duration": 10,
    }
    assert "thumbnail_url" not in answer and "error" not in answer


def test_unified_query_queued_reports_queue_position_and_wait():
    answer = unified.query_answer(
        view(status="queued", progress=0.0, queue_position=3, queue_wait=4.0), CDN
    )
    assert answer["status"] == "pending"
    info = answer["detail"]["pending_info"]
    assert info["status"] == "queued"
    assert info["progress_pct"] == 0.0
    assert (info["progress_pos_in_queue"], info["estimated_queue_wait_time"]) == (3, 4.0)


def test_unified_query_completed_has_links_size_and_enhanced_prompt():
    answer = unified.query_answer(done(), CDN)
    files = f"{CDN}/cdn/20251006/VfgB5ubjInVt8sG6rzMppxnu7gEfde"
    assert answer["status"] == "completed"
    assert answer["video_url"] == f"{files}.mp4"
    assert answer["thumbnail_url"] == f"{files}.webp"
    assert (answer["width"], answer["height"]) == (720, 1280)
    assert answer["enhanced_prompt"].startswith("make animate")
    assert answer["detail"]["url"] == answer["video_url"]
    assert answer["detail"]["gif_url"] == f"{files}.gif"
    assert answer["detail"]["pending_info"]["progress_pct"] == 1.0


def test_unified_query_failed_carries_error_and_failure_reason():
    reason = "content policy violation: the prompt contains [fail]"
    answer = unified.query_answer(failed(reason), CDN)
    assert answer["status"] == "failed"
    assert answer["error"] == reason
    assert answer["video_url"] is None
    info = answer["detail"]["pending_info"]
    assert info["failure_reason"] == reason
    assert info["moderation_result"] == {"type": "blocked"}
    other = unified.query_answer(failed("upstream timed out"), CDN)
    assert other["detail"]["pending_info"]["moderation_result"] == {"type": "passed"}


def test_unified_alt_variant_top_level_progress_seconds_and_error_object():
    running = unified.query_answer(view(), CDN, "alt")
    assert running["status"] == running["detail"]["status"] == "in_progress"
    assert running["progress"] == 45
    assert "pending_info" not in running["detail"]
    assert running["status_update_time"] == int(CREATED + 3.5)  # seconds, not milliseconds
    assert unified.query_answer(view(status="queued", progress=0.0), CDN, "alt")["status"] == (
        "queued"
    )
    assert unified.query_answer(done(), CDN, "alt")["progress"] == 100
    broken = unified.query_answer(failed("boom"), CDN, "alt")
    assert broken["error"] == {"code": "generation_failed", "message": "boom"}


# --- openai (OpenAI's Videos API, PROTOCOLS.md "Dialect openai") --------------------------------

VIDEO_FIELDS = {
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


def openai_view(**changes: Any) -> JobView:
    fields = {
        "id": "video_" + "ab" * 24,
        "dialect": "openai",
        "width": 1280,
        "height": 720,
        "seconds": 8.0,
        "orientation": "landscape",
        "params": {"model": "sora-2", "seconds": "8", "size": "1280x720", "encoding": "json"},
    }
    fields.update(changes)
    return view(**fields)


def test_openai_video_object_fields_while_running():
    obj = openai.video_object(openai_view())
    assert set(obj) == VIDEO_FIELDS
    assert obj["object"] == "video"
    assert obj["status"] == "in_progress"
    assert obj["progress"] == 45
    assert obj["seconds"] == "8" and isinstance(obj["seconds"], str)
    assert obj["size"] == "1280x720"
    assert obj["created_at"] == int(CREATED)
    assert obj["completed_at"] is None and obj["expires_at"] is None
    assert obj["error"] is None


def test_openai_fresh_object_is_queued_at_zero():
    obj = openai.video_object(openai_view(), fresh=True)
    assert (obj["status"], obj["progress"]) == ("queued", 0)


def test_openai_completed_object_has_completion_and_expiry():
    obj = openai.video_object(openai_view(status="completed", progress=1.0, ended_at=CREATED + 60))
    assert (obj["status"], obj["progress"]) == ("completed", 100)
    assert obj["completed_at"] == int(CREATED + 60)
    assert obj["expires_at"] == obj["completed_at"] + 86400


def test_openai_failed_object_has_error_code_and_message():
    blocked = openai.video_object(openai_view(status="failed", fail_reason="content policy: no"))
    assert blocked["error"] == {"code": "moderation_blocked", "message": "content policy: no"}
    other = openai.video_object(openai_view(status="failed", fail_reason="render crashed"))
    assert other["error"]["code"] == "generation_failed"
    assert other["completed_at"] is None


def test_openai_seconds_default_from_the_job_when_params_lack_it():
    assert openai.video_object(openai_view(params={}, seconds=12.0))["seconds"] == "12"
    assert openai.seconds_text(4.0) == "4"
    assert openai.seconds_text(2.5) == "2.5"


def test_openai_list_page_and_deleted():
    first, second = openai_view(id="video_1"), openai_view(id="video_2")
    page = openai.list_page([first, second], has_more=True)
    assert page["object"] == "list"
    assert [v["id"] for v in page["data"]] == ["video_1", "video_2"]
    assert all(v["object"] == "video" for v in page["data"])
    assert (page["first_id"], page["last_id"], page["has_more"]) == ("video_1", "video_2", True)
    empty = openai.list_page([], has_more=False)
    assert empty == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }
    assert openai.deleted("video_1") == {
        "id": "video_1",
        "object": "video.deleted",
        "deleted": True,
    }


# --- st-ai (seed 003) ---------------------------------------------------------------------------


def stai_view(**changes: Any) -> JobView:
    fields = {
        "id": "abcd1234efgh",
        "dialect": "stai",
        "model": "kling-v1",
        "width": 1280,
        "height": 720,
        "seconds": 5.0,
        "params": {"duration": 5.0, "width": 1280, "height": 720, "fps": 25},
    }
    fields.update(changes)
    return view(**fields)


def test_stai_create_answer_is_task_id_and_queued():
    assert stai.create_answer(stai_view(status="queued")) == {
        "task_id": "abcd1234efgh",
        "status": "queued",
    }


def test_stai_task_running_then_completed_with_metadata():
    running = stai.task_object(stai_view(progress=0.65))
    assert running == {
        "id": "abcd1234efgh",
        "object": "video",
        "model": "kling-v1",
        "status": "in_progress",
        "progress": 65,
        "created_at": int(CREATED),
    }
    completed = stai.task_object(
        stai_view(status="completed", progress=1.0, ended_at=CREATED + 100)
    )
    assert completed["progress"] == 100
    assert completed["completed_at"] == int(CREATED + 100)
    assert completed["metadata"] == {"duration": 5.0, "fps": 25, "width": 1280, "height": 720}
    no_fps = stai.task_object(
        stai_view(status="completed", progress=1.0, ended_at=CREATED + 1, params={})
    )
    assert no_fps["metadata"]["fps"] == 30


def test_stai_failed_task_has_error():
    obj = stai.task_object(stai_view(status="failed", fail_reason="boom"))
    assert obj["error"] == {"code": "generation_failed", "message": "boom"}
    assert "completed_at" not in obj


# --- chat (seeds 000, 003; PROTOCOLS.md "Dialect chat") -----------------------------------------


def test_chat_completion_has_message_and_usage():
    answer = chat.completion("chatcmpl-1", "gpt-4", "hello there world", "say hi", created=17)
    assert answer["object"] == "chat.completion"
    assert (answer["id"], answer["created"], answer["model"]) == ("chatcmpl-1", 17, "gpt-4")
    choice = answer["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "hello there world"}
    assert choice["finish_reason"] == "stop"
    assert answer["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}


def test_chat_completion_with_a_forced_tool_call():
    call = chat.tool_call("call_1", "generate_animate", "a cat")
    assert call["function"] == {"name": "generate_animate", "arguments": '{"prompt": "a cat"}'}
    answer = chat.completion("c", "gpt-4", None, "a cat", created=1, tool_calls=[call])
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [call]


def test_chat_chunk_and_usage_chunk():
    piece = chat.chunk("c", "sora-2", 5, {"content": "hi"})
    assert piece["object"] == "chat.completion.chunk"
    assert piece["choices"] == [
        {"index": 0, "delta": {"content": "hi"}, "logprobs": None, "finish_reason": None}
    ]
    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    last = chat.chunk("c", "sora-2", 5, {}, "stop", usage=usage)
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["usage"] == usage
    tail = chat.usage_chunk("c", "gpt-4", 5, usage)
    assert tail["object"] == "chat.completion.chunk"
    assert tail["choices"] == [] and tail["usage"] == usage


def run_text(looks: list[JobView | None], template: str = "zh") -> list[str]:
    text = chat.VideoProgressText(TEMPLATES[template], "task_01abc", CDN)
    out = [d["content"] for d in text.opening(looks[0] or view())]
    for look in looks:
        out += [d["content"] for d in text.observe(look)]
        if text.finished:
            break
    assert text.finished
    return out


def test_video_progress_text_zh_in_order_with_rising_percentages():
    looks = [
        view(status="queued", progress=0.0),
        view(status="queued", progress=0.0),
        view(progress=0.36),
        view(progress=0.36),  # no repeat
        view(progress=0.44),
        view(progress=0.999),  # 99, never 100 before done
        done(),
    ]
    parts = run_text(looks)
    assert parts[0] == '```json\n{"prompt": "make animate", "orientation": "portrait"}\n```\n\n'
    assert parts[1:4] == ["> ID: `task_01abc`\n", "> 排队中...\n", "> 生成中...\n"]
    assert parts[4:7] == ["\n>🏃 进度 36..", "44..", "99.."]
    files = f"{CDN}/cdn/20251006/VfgB5ubjInVt8sG6rzMppxnu7gEfde"
    assert parts[7] == (
        f"\n\n> 生成完成 ✅\n\n![{files}.webp]({files}.webp)\n[在线播放▶️]({files}.mp4)\n"
    )
    assert len(parts) == 8
    assert chat.joined_text({"content": p} for p in parts) == "".join(parts)


def test_video_progress_text_failure_and_deletion():
    parts = run_text([view(progress=0.2), failed("boom")], "en")
    assert parts[-1] == "\n\nGeneration failed: boom\n"
    deleted = run_text([view(status="queued", progress=0.0), None])
    assert deleted[-1] == "\n> 生成失败 ❌\n> 原因: task deleted\n"
    assert "生成中" not in "".join(deleted)


# --- images (seed 003) --------------------------------------------------------------------------


def test_images_answer_with_url_and_b64_items():
    revised = images.revised_prompt("a cat", 0, 2, "256x256")
    assert revised == "a cat (emulator rendition 1 of 2, 256x256)"
    by_url = images.url_item("https://x/y.png", revised)
    assert by_url == {"url": "https://x/y.png", "revised_prompt": revised}
    inline = images.b64_item(b"\x89PNG", revised)
    assert base64.b64decode(inline["b64_json"]) == b"\x89PNG"
    assert images.answer(9, [by_url]) == {"created": 9, "data": [by_url]}


# --- models and errors --------------------------------------------------------------------------


def test_model_list_names_each_model_once_in_order():
    listed = models.model_list(["sora-2", "gpt-4", "sora-2"])
    assert listed["object"] == "list"
    assert [m["id"] for m in listed["data"]] == ["sora-2", "gpt-4"]
    assert {m["object"] for m in listed["data"]} == {"model"}


@pytest.mark.parametrize(
    ("status", "type_", "code"),
    [
        (400, "invalid_request_error", None),
        (401, "invalid_request_error", "invalid_api_key"),
        (429, "requests", "rate_limit_exceeded"),
        (502, "upstream_error", "bad_gateway"),
        (599, "server_error", None),
    ],
)
def test_error_body_defaults_per_status(status: int, type_: str, code: str | None):
    body = errors.error_body(status)
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert (body["error"]["type"], body["error"]["code"]) == (type_, code)
    assert body["error"]["message"]


def test_error_bodies_quota_and_keys():
    quota = errors.quota_body()["error"]
    assert (quota["type"], quota["code"]) == ("insufficient_quota", "insufficient_quota")
    assert errors.error_body(400, "bad size", code="x")["error"]["message"] == "bad size"
    assert errors.missing_api_key()["error"]["code"] == "missing_api_key"
    wrong = errors.incorrect_api_key("sk-wrong")["error"]
    assert "sk-wrong" in wrong["message"] and wrong["code"] == "invalid_api_key"


def test_every_shape_is_plain_json():
    v = openai_view()
    for answer in (
        unified.query_answer(done(), CDN),
        unified.query_answer(failed("boom"), CDN, "alt"),
        openai.video_object(v),
        openai.list_page([v], has_more=False),
        stai.task_object(dataclasses.replace(v, dialect="stai", status="completed", ended_at=1.0)),
        chat.completion("c", "m", "t", "p", created=1),
    ):
        assert json.loads(json.dumps(answer, allow_nan=False)) == answer


# --- no progress figure (the `silent` profile) ---------------------------------------------------


def test_no_progress_figure_in_each_family():
    running = view(progress=None)
    info = unified.query_answer(running, CDN)["detail"]["pending_info"]
    assert info["progress_pct"] is None
    assert unified.query_answer(running, CDN, "alt")["progress"] == 0
    assert openai.video_object(openai_view(progress=None))["progress"] == 0
    assert stai.task_object(stai_view(progress=None))["progress"] == 0
    parts = run_text([view(progress=None), view(progress=None), done()])
    assert parts[2] == "> 生成中...\n"
    assert parts[3].startswith("\n> 生成完成")  # no progress line in between
    assert len(parts) == 4


def test_rate_limited_body():
    error = errors.rate_limited(2.0, 5)["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")
    assert "2 requests per second" in error["message"] and "bursts of 5" in error["message"]
