"""The emulator's answers as pure functions of a job's values, without a server.

Fields are those the relays' public docs (6ai.chat, xiaojingai, winfull, st-ai) and OpenAI's API
reference name; the wire tests over sockets are in tests/integration/test_emulator_shapes.py.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import pytest

from sora_nb.emulator.chat_text import TEMPLATES
from sora_nb.emulator.faults import Fault
from sora_nb.emulator.jobs import JobView
from sora_nb.emulator.shapes import (
    chat,
    errors,
    images,
    models,
    newapi,
    openai,
    sora2api,
    stai,
    unified,
)
from sora_nb.emulator.shapes.links import media_url

CDN = "http://127.0.0.1:9999"
CREATED = 1759763427.208  # wall-clock seconds (6ai.chat docs' status_update_time, in seconds)


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


# --- unified (6ai.chat docs; relays that publish /v1/video/query) ------------------------------


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


# --- openai (OpenAI's Videos API reference, openai-python's videos.py) --------------------------

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


# --- st-ai (the st-ai gateway's API docs, api.sora2.pub) ----------------------------------------


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


# --- chat (6ai.chat, winfull and st-ai relay docs) ----------------------------------------------


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


# --- images (OpenAI's Images API; the st-ai docs) -----------------------------------------------


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


# --- new-api (QuantumNous/new-api) -----------------------------------------------------------

TASK_ID = "task_AbCdEfGhIjKlMnOpQrStUvWxYz012345"
CDN_MP4 = "http://127.0.0.1:9999/cdn/20251006/VfgB5ubjInVt8sG6rzMppxnu7gEfde.mp4"


def task_view(model: str = "kling-v1", **changes: Any) -> JobView:
    base = {
        "id": TASK_ID,
        "dialect": "newapi",
        "model": model,
        "width": 1280,
        "height": 720,
        "seconds": 5.0,
        "orientation": "landscape",
        "params": {"images": [], "size": "", "seconds": "5", "encoding": "json"},
        "seq": 7,
        "started_at": CREATED + 1.5,
    }
    base.update(changes)
    return view(**base)


def test_newapi_status_words_follow_the_job():
    # model/task.go status words; InitTask's NOT_START until the job gets a render slot.
    assert newapi.task_word(task_view(status="queued", progress=0.0, queue_position=1)) == (
        "NOT_START"
    )
    assert newapi.task_word(task_view(status="queued", progress=0.0)) == "QUEUED"
    assert newapi.task_word(task_view()) == "IN_PROGRESS"
    assert newapi.task_word(task_view(status="completed", ended_at=CREATED + 9)) == "SUCCESS"
    assert newapi.task_word(task_view(status="failed", fail_reason="x")) == "FAILURE"
    assert set(newapi.STATUS_WORDS) == {
        "NOT_START", "SUBMITTED", "QUEUED", "IN_PROGRESS", "SUCCESS", "FAILURE", "UNKNOWN",
    }  # fmt: skip


def test_newapi_progress_is_a_percent_string():
    # taskcommon/helpers.go fixed figures; only the sora adaptor reports its own (0 < p < 100).
    kling, sora = task_view(), task_view("sora-2")
    assert newapi.task_progress("IN_PROGRESS", kling) == "30%"
    assert newapi.task_progress("IN_PROGRESS", sora) == "45%"
    assert newapi.task_progress("IN_PROGRESS", task_view("sora-2", progress=0.0)) == "30%"
    assert newapi.task_progress("IN_PROGRESS", task_view("sora-2", progress=None)) == "30%"
    expected = {"NOT_START": "0%", "SUBMITTED": "10%", "QUEUED": "20%", "SUCCESS": "100%"}
    for word, figure in expected.items():
        assert newapi.task_progress(word, kling) == figure
    assert newapi.task_progress("FAILURE", sora) == "100%"
    # dto/openai_video.go SetProgressStr: "%" trimmed, Atoi, 0 on error.
    assert [newapi.progress_int(p) for p in ("30%", "100%", "", "x%")] == [30, 100, 0, 0]


def test_newapi_task_dto_in_progress_exact():
    # dto/task.go TaskDto filled by TaskModel2Dto (relay/relay_task.go), in the struct's order;
    # result_url is omitempty, so absent while running.
    dto = newapi.task_dto(task_view(), link=CDN_MP4)
    assert dto == {
        "id": 7,
        "created_at": int(CREATED),
        "updated_at": int(CREATED + 3.5),
        "task_id": TASK_ID,
        "platform": "50",
        "user_id": 1,
        "group": "default",
        "channel_id": 1,
        "quota": 0,
        "action": "textGenerate",
        "status": "IN_PROGRESS",
        "fail_reason": "",
        "submit_time": int(CREATED),
        "start_time": int(CREATED + 1.5),
        "finish_time": 0,
        "progress": "30%",
        "properties": {
            "input": "",
            "upstream_model_name": "kling-v1",
            "origin_model_name": "kling-v1",
        },
        "data": None,
    }
    assert list(dto)[:12] == [
        "id", "created_at", "updated_at", "task_id", "platform", "user_id", "group",
        "channel_id", "quota", "action", "status", "fail_reason",
    ]  # fmt: skip
    waiting = newapi.task_dto(
        task_view(status="queued", progress=0.0, queue_position=2, started_at=None), link=None
    )
    assert (waiting["status"], waiting["progress"], waiting["start_time"]) == ("NOT_START", "0%", 0)
    with_image = task_view(params={"images": ["https://x/a.png"]})
    assert newapi.task_dto(with_image, link=None)["action"] == "generate"
    assert newapi.task_dto(task_view("sora-2-pro"), link=None)["platform"] == "55"


def test_newapi_task_dto_links_and_failures():
    finished = task_view(status="completed", progress=1.0, ended_at=CREATED + 42.9)
    dto = newapi.task_dto(finished, link=CDN_MP4)
    assert (dto["status"], dto["progress"], dto["fail_reason"]) == ("SUCCESS", "100%", "")
    assert dto["result_url"] == CDN_MP4
    assert dto["finish_time"] == int(CREATED + 42.9)
    # Old new-api kept the link in fail_reason; GetResultURL (model/task.go) falls back to it.
    legacy = newapi.task_dto(finished, link=CDN_MP4, legacy_link=True)
    assert legacy["fail_reason"] == legacy["result_url"] == CDN_MP4
    # On FAILURE GetResultURL falls back to FailReason: the reason shows up as result_url too.
    broken = task_view(status="failed", progress=0.5, fail_reason="boom", ended_at=CREATED + 5)
    failed_dto = newapi.task_dto(broken, link=CDN_MP4)
    assert (failed_dto["status"], failed_dto["progress"]) == ("FAILURE", "100%")
    assert failed_dto["fail_reason"] == failed_dto["result_url"] == "boom"
    upstream = {"id": "video_x", "object": "video"}
    assert newapi.task_dto(finished, link=CDN_MP4, upstream=upstream)["data"] == upstream
    assert newapi.task_dto(task_view(), link=None, word="SUBMITTED")["progress"] == "10%"


def test_newapi_envelope_and_task_error():
    # dto/task.go TaskResponse (message always present) and TaskError.
    assert newapi.envelope({"a": 1}) == {"code": "success", "message": "", "data": {"a": 1}}
    assert newapi.task_error("task_not_exist", "task_not_exist") == {
        "code": "task_not_exist",
        "message": "task_not_exist",
        "data": None,
    }


def test_newapi_create_answer_kling_and_sora():
    # kling adaptor DoResponse: dto.NewOpenAIVideo() with id and task_id, not wrapped.
    fresh = task_view(status="queued", progress=0.0, queue_position=1)
    assert newapi.create_answer(fresh) == {
        "id": TASK_ID,
        "task_id": TASK_ID,
        "object": "video",
        "model": "kling-v1",
        "status": "queued",
        "progress": 0,
        "created_at": int(CREATED),
    }
    # sora adaptor: the upstream video object with the public id, so seconds and size too.
    sora = newapi.create_answer(
        task_view("sora-2", width=720, height=1280, params={"seconds": "8", "images": []})
    )
    assert (sora["seconds"], sora["size"], sora["task_id"]) == ("8", "720x1280", TASK_ID)
    # relay_utils.go ValidateMultipartDirect's ratios, marshalled by Go.
    assert newapi.other_ratios("sora-2", 4, "720x1280") == '{"seconds":4,"size":1}'
    assert newapi.other_ratios("sora-2-pro", 12, "1792x1024") == '{"seconds":12,"size":1.666667}'
    assert newapi.other_ratios("kling-v1", 5, "") is None


def test_newapi_videos_object_per_platform():
    # kling adaptor ConvertToOpenAIVideo: model never set, kling's millisecond times,
    # "unknown" while NOT_START (TaskStatus.ToVideoStatus), metadata.url once done.
    waiting = task_view(status="queued", progress=0.0, queue_position=1)
    assert newapi.videos_object(waiting, link=None) == {
        "id": TASK_ID,
        "object": "video",
        "model": "",
        "status": "unknown",
        "progress": 0,
        "created_at": int(CREATED * 1000),
        "completed_at": int((CREATED + 3.5) * 1000),
    }
    finished = task_view(status="completed", progress=1.0, ended_at=CREATED + 9)
    done_obj = newapi.videos_object(finished, link=CDN_MP4)
    assert (done_obj["status"], done_obj["progress"]) == ("completed", 100)
    assert (done_obj["seconds"], done_obj["metadata"]) == ("5", {"url": CDN_MP4})
    broken = task_view(status="failed", fail_reason="boom", ended_at=CREATED + 5)
    assert newapi.videos_object(broken, link=None)["error"] == {"message": "boom", "code": ""}
    # model/task.go Task.ToOpenAIVideo (other platforms): metadata.url always, model named,
    # and GetResultURL's fallback puts a failure text there.
    running = newapi.videos_object(task_view("vidu-q1"), link=None)
    assert running == {
        "id": TASK_ID,
        "object": "video",
        "model": "vidu-q1",
        "status": "in_progress",
        "progress": 30,
        "created_at": int(CREATED),
        "completed_at": int(CREATED + 3.5),
        "metadata": {"url": ""},
    }
    assert newapi.videos_object(
        task_view("vidu-q1", status="failed", fail_reason="boom"), link=None
    )["metadata"] == {"url": "boom"}
    # sora adaptor: the upstream object, unknown read as queued, no link in the body.
    sora = newapi.videos_object(
        task_view("sora-2", status="queued", progress=0.0, queue_position=1), link=CDN_MP4
    )
    assert (sora["status"], sora["progress"], sora["object"]) == ("queued", 0, "video")
    assert "metadata" not in sora and CDN_MP4 not in json.dumps(sora)
    assert [newapi.video_status(w) for w in newapi.STATUS_WORDS] == [
        "unknown", "queued", "queued", "in_progress", "completed", "failed", "unknown",
    ]  # fmt: skip


def test_newapi_error_bodies():
    # controller/relay.go RelayNotFound: param and code are empty strings.
    assert newapi.invalid_url("POST", "/v1/x") == {
        "error": {
            "message": "Invalid URL (POST /v1/x)",
            "type": "invalid_request_error",
            "param": "",
            "code": "",
        }
    }
    # controller/video_proxy.go videoProxyError: no param, no code.
    assert newapi.proxy_error("Task not found") == {
        "error": {"message": "Task not found", "type": "invalid_request_error"}
    }
    # controller/relay.go Relay(): request id appended, ToOpenAIError().
    assert newapi.relay_quota_error(newapi.QUOTA_MESSAGE, "2025x") == {
        "error": {
            "message": "用户额度不足, 剩余额度: ＄0.000000 (request id: 2025x)",
            "type": "new_api_error",
            "param": "",
            "code": "insufficient_user_quota",
        }
    }
    # common/utils.go GetTimeString: UTC yyyymmddhhmmss, then nanoseconds unpadded.
    assert newapi.request_id(1759763427.000000123, "abcdEFGH").startswith("20251006151027")
    assert newapi.request_id(1759763427.5, "abcdEFGH").endswith("500000000abcdEFGH")
    assert newapi.is_task_route("/v1/video/generations/x") and newapi.is_task_route("/v1/videos")
    assert not newapi.is_task_route("/v1/chat/completions")


def test_newapi_quota_fault_403_per_route():
    # service/billing_session.go: 403 insufficient_user_quota, not OpenAI's 429.
    fault = Fault(kind="create", action="quota", style="newapi")
    assert fault.status == 403
    assert fault.body("/v1/video/generations") == {
        "code": "insufficient_user_quota",
        "message": "用户额度不足, 剩余额度: ＄0.000000",
        "data": None,
    }
    relay = fault.body("/v1/chat/completions")["error"]
    assert (relay["type"], relay["code"], relay["param"]) == (
        "new_api_error",
        "insufficient_user_quota",
        "",
    )
    assert relay["message"].startswith("用户额度不足, 剩余额度: ＄0.000000 (request id: ")
    custom = Fault(action="quota", style="newapi", message="用户额度不足, 剩余额度: ¥-1.56")
    assert custom.body("/v1/videos")["message"] == "用户额度不足, 剩余额度: ¥-1.56"
    assert Fault(action="quota").status == 429  # OpenAI's style stays as it was
    with pytest.raises(ValueError, match="style"):
        Fault(action="status", style="newapi")
    with pytest.raises(ValueError, match="style"):
        Fault(action="quota", style="nope")


def test_newapi_billing_shapes():
    # controller/billing.go GetSubscription / GetUsage; Go writes whole floats without ".0".
    assert newapi.subscription(12.5) == {
        "object": "billing_subscription",
        "has_payment_method": True,
        "soft_limit_usd": 12.5,
        "hard_limit_usd": 12.5,
        "system_hard_limit_usd": 12.5,
        "access_until": 0,
    }
    assert newapi.subscription(None)["hard_limit_usd"] == 100000000
    assert json.dumps(newapi.subscription(25.0)["hard_limit_usd"]) == "25"
    assert newapi.usage(3.5) == {"object": "list", "total_usage": 350}
    assert newapi.usage(0.125) == {"object": "list", "total_usage": 12.5}


# --- sora2api (TheSmallHanCat/sora2api) --------------------------------------------------------


def test_sora2api_stream_chunk_exact():
    # generation_handler.py _format_stream_chunk.
    first = sora2api.stream_chunk(1760000000.1234, reasoning_content="r", is_first=True)
    assert first == {
        "id": "chatcmpl-1760000000123",
        "object": "chat.completion.chunk",
        "created": 1760000000,
        "model": "sora",
        "choices": [
            {
                "index": 0,
                "delta": {
                    "role": "assistant",
                    "content": None,
                    "reasoning_content": "r",
                    "tool_calls": None,
                },
                "finish_reason": None,
                "native_finish_reason": None,
            }
        ],
        "usage": {"prompt_tokens": 0},
    }
    last = sora2api.stream_chunk(1.0, content="c", finish_reason="STOP")
    assert list(last["choices"][0]["delta"]) == ["content", "reasoning_content", "tool_calls"]
    assert last["choices"][0]["finish_reason"] == last["choices"][0]["native_finish_reason"]
    assert last["usage"] == {"prompt_tokens": 0, "completion_tokens": 1, "total_tokens": 1}
    # json.dumps defaults: non-ASCII escaped.
    assert (
        sora2api.data_text({"t": "❌ 生成失败"}) == '{"t": "\\u274c \\u751f\\u6210\\u5931\\u8d25"}'
    )


def test_sora2api_error_event_and_availability():
    # routes.py generate(): the bare error object inside the 200 stream.
    assert sora2api.error_event("boom") == {
        "error": {"message": "boom", "type": "server_error", "param": None, "code": None}
    }
    # _format_non_stream_response(…, is_availability_check=True).
    answer = sora2api.availability_completion(1760000000.25)
    assert answer == {
        "id": "chatcmpl-1760000000.25",
        "object": "chat.completion",
        "created": 1760000000,
        "model": "sora",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "All tokens available for video generation. Please enable "
                    "streaming to use the generation feature.",
                },
                "finish_reason": "stop",
            }
        ],
    }


def deltas(events: list[dict]) -> list[tuple]:
    return [
        (
            e["choices"][0]["delta"]["content"],
            e["choices"][0]["delta"]["reasoning_content"],
            e["choices"][0]["finish_reason"],
        )
        for e in events
    ]


def test_sora2api_progress_then_html_fence():
    tracker = sora2api.Sora2apiProgress(CDN_MP4)
    opening = tracker.opening(100.0)
    assert deltas(opening) == [
        (None, "**Generation Process Begins**\n\nInitializing generation request...\n", None)
    ]
    assert tracker.observe(view(status="queued", progress=0.0), 100.5) == []  # 0%: no change
    moved = tracker.observe(view(progress=0.3), 101.0)
    assert deltas(moved) == [(None, "**Video Generation Progress**: 30% (processing)\n", None)]
    assert tracker.observe(view(progress=0.305), 101.5) == []  # same whole percent
    final = tracker.observe(done(), 102.0)
    assert tracker.finished
    assert deltas(final) == [
        (
            None,
            "**Video Generation Completed**\n\nVideo generation successful. Now caching the "
            "video file...\n",
            None,
        ),
        (None, "Video file cached successfully. Preparing final response...\n", None),
        (f"```html\n<video src='{CDN_MP4}' controls></video>\n```", None, "STOP"),
    ]


def test_sora2api_interval_and_failures():
    # Newer versions: a status line every 30 s, whether or not the figure moved.
    slow = sora2api.Sora2apiProgress(CDN_MP4, interval=30)
    slow.opening(0.0)
    assert slow.observe(view(progress=0.5), 29.0) == []
    assert len(slow.observe(view(progress=0.5), 30.0)) == 1
    assert slow.observe(view(progress=0.6), 45.0) == []
    # The drafts branch: content-policy text, finish_reason "STOP".
    text = sora2api.Sora2apiProgress(CDN_MP4)
    text.opening(0.0)
    assert deltas(text.observe(failed("flagged"), 1.0)) == [
        (None, "**Content Policy Violation**\n\nflagged\n", None),
        ("❌ 生成失败: flagged", None, "STOP"),
    ]
    # An exception instead: the bare error event.
    err = sora2api.Sora2apiProgress(CDN_MP4, failure="error")
    err.opening(0.0)
    assert err.observe(None, 1.0) == [sora2api.error_event("task deleted")]
    assert err.finished
