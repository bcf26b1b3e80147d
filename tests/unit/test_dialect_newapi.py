"""Dialect newapi: new-api's task routes, with the answers its code sends (QuantumNous/new-api;
each shape below cites the file it comes from)."""

from __future__ import annotations

import pytest

from sora_nb import dialects
from sora_nb._exceptions import ProtocolError
from sora_nb.dialects import ImageFile
from sora_nb.dialects.newapi import NEWAPI
from sora_nb.models import VideoRequest

TASK = "task_AbCdEfGhIjKlMnOpQrStUvWxYz012345"


def poll(data):
    # dto/task.go TaskResponse: Code, Message (always present), Data.
    return {"code": "success", "message": "", "data": data}


def task_dto(status, progress, **extra):
    # dto/task.go TaskDto, as relay/relay_task.go TaskModel2Dto fills it.
    base = {
        "id": 123,
        "created_at": 1760000000,
        "updated_at": 1760000100,
        "task_id": TASK,
        "platform": "50",
        "user_id": 1,
        "group": "default",
        "channel_id": 3,
        "quota": 0,
        "action": "textGenerate",
        "status": status,
        "fail_reason": "",
        "submit_time": 1760000000,
        "start_time": 1760000030,
        "finish_time": 0,
        "progress": progress,
        "properties": {
            "input": "",
            "upstream_model_name": "kling-v1",
            "origin_model_name": "kling-v1",
        },
        "data": {},
    }
    base.update(extra)
    return base


def test_registered_and_able():
    assert dialects.get("newapi") is NEWAPI
    assert NEWAPI.abilities.poll and NEWAPI.abilities.content and not NEWAPI.abilities.list


def test_create_request_carries_what_task_submit_req_reads():
    # relay/common/relay_info.go TaskSubmitReq: prompt, model, image/images, size, duration
    # (int), seconds (string), metadata.
    request = VideoRequest(
        "a fox", "kling-v1", size="1280x720", duration=5.0, extra={"metadata": {"mode": "pro"}}
    )
    http = NEWAPI.build_create(request, ["https://x.example/in.png"])
    assert (http.method, http.path, http.kind) == ("POST", "video/generations", "create")
    assert http.json == {
        "model": "kling-v1",
        "prompt": "a fox",
        "size": "1280x720",
        "duration": 5,
        "seconds": "5",
        "image": "https://x.example/in.png",
        "metadata": {"mode": "pro"},
    }
    two = NEWAPI.build_create(
        VideoRequest("a fox", "kling-v1"),
        ["https://x/a.png", ImageFile("b.png", b"\x89PNG\r\n\x1a\n", "image/png")],
    )
    assert two.json["images"][0] == "https://x/a.png"
    assert two.json["images"][1].startswith("data:image/png;base64,")


def test_poll_and_content_routes_encode_ids():
    assert NEWAPI.build_poll("a/b").path == "video/generations/a%2Fb"
    assert NEWAPI.build_content(TASK).path == f"videos/{TASK}/content"


def test_create_answer_is_an_unwrapped_video_object():
    # relay/channel/task/kling/adaptor.go DoResponse: dto.NewOpenAIVideo() with ID and TaskID.
    job = NEWAPI.parse_job(
        {
            "id": TASK,
            "task_id": TASK,
            "object": "video",
            "model": "kling-v1",
            "status": "queued",
            "progress": 0,
            "created_at": 1760000000,
        }
    )
    assert (job.id, job.status, job.progress, job.model) == (TASK, "queued", 0.0, "kling-v1")
    # The docs page's shape (docs.newapi.pro … createvideogeneration).
    assert NEWAPI.parse_job({"task_id": "abcd1234efgh", "status": "queued"}).id == "abcd1234efgh"


@pytest.mark.parametrize(
    ("word", "progress", "status", "pct"),
    [
        ("NOT_START", "0%", "queued", 0.0),  # model/task.go InitTask
        ("SUBMITTED", "10%", "queued", 10.0),  # taskcommon/helpers.go ProgressSubmitted
        ("QUEUED", "20%", "queued", 20.0),
        ("IN_PROGRESS", "30%", "in_progress", 30.0),
        ("UNKNOWN", "30%", "in_progress", 30.0),  # declared, never terminal: still running
    ],
)
def test_poll_answer_status_words_and_string_progress(word, progress, status, pct):
    job = NEWAPI.parse_job(poll(task_dto(word, progress)))
    assert (job.id, job.status, job.progress, job.dialect) == (TASK, status, pct, "newapi")
    assert job.model == "kling-v1"  # properties.origin_model_name


def test_success_with_result_url():
    # service/task_polling.go: result_url is the upstream URL or the content proxy.
    body = poll(
        task_dto(
            "SUCCESS", "100%", result_url="https://cdn.kling.example/v.mp4", finish_time=1760000200
        )
    )
    job = NEWAPI.parse_job(body)
    assert job.status == "completed" and job.video_url == "https://cdn.kling.example/v.mp4"
    assert job.error is None and job.progress == 100.0


def test_old_versions_put_the_link_in_fail_reason():
    # model/task.go GetResultURL: "旧数据回退到 FailReason（历史兼容）".
    job = NEWAPI.parse_job(
        poll(task_dto("SUCCESS", "100%", fail_reason="https://cdn.example/old.mp4"))
    )
    assert job.video_url == "https://cdn.example/old.mp4" and job.error is None


def test_a_link_only_in_the_upstream_json():
    upstream = {
        "code": 0,
        "data": {
            "task_result": {
                "videos": [{"id": "v1", "url": "https://k.example/x.mp4", "duration": "5"}]
            }
        },
    }
    job = NEWAPI.parse_job(poll(task_dto("SUCCESS", "100%", data=upstream)))
    assert job.video_url == "https://k.example/x.mp4"


def test_failure_carries_fail_reason():
    # service/task_polling.go sweepTimedOutTasks: "任务超时（%d分钟）", progress "100%".
    job = NEWAPI.parse_job(poll(task_dto("FAILURE", "100%", fail_reason="任务超时（30分钟）")))
    assert job.status == "failed" and job.error == "任务超时（30分钟）" and job.video_url is None


def test_gemini_channels_simple_object_wrapped_or_not():
    # relay/relay_task.go tryRealtimeFetch: {error, format, metadata, status, task_id, url}.
    simple = {
        "error": None,
        "format": "mp4",
        "metadata": None,
        "status": "succeeded",
        "task_id": TASK,
        "url": "https://g.example/v.mp4",
    }
    for body in (poll(simple), simple):  # the docs show it unwrapped
        job = NEWAPI.parse_job(body)
        assert job.status == "completed" and job.video_url == "https://g.example/v.mp4"


def test_an_answer_without_a_task_is_a_protocol_error():
    with pytest.raises(ProtocolError):
        NEWAPI.parse_job({"code": "success", "message": "", "data": None})
