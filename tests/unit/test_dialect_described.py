"""Relays described as data: the two worked examples in docs/relays/ (UCloud ModelVerse, APIXO),
read by the same code a user's dialects.toml is, against the answers their docs show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sora_nb import dialects
from sora_nb._exceptions import ConfigError
from sora_nb.dialects import ImageFile
from sora_nb.dialects.described import dig_path
from sora_nb.models import VideoRequest
from tests.unit.test_runs import Driver

DOCS = Path(__file__).resolve().parents[2] / "docs" / "relays"


@pytest.fixture
def modelverse():
    (family,) = dialects.load_file(DOCS / "modelverse.toml")
    dialects.register(family, replace=True)
    yield family
    dialects.unregister(family.name)


@pytest.fixture
def apixo():
    (family,) = dialects.load_file(DOCS / "apixo.toml")
    return family


def test_modelverse_requests_as_its_docs_show(modelverse):
    # UCloudDoc-Team/modelverse api_doc/video_api/OpenAI-Sora2-I2V-Pro.md
    request = VideoRequest(
        "The image is coming to life",
        "openai/sora-2/image-to-video-pro",
        size="720x1280",
        duration=4.0,
    )
    create = modelverse.build_create(request, ["https://x.example/x.jpg"])
    assert (create.method, create.path) == ("POST", "tasks/submit")
    assert create.json == {
        "model": "openai/sora-2/image-to-video-pro",
        "input": {
            "prompt": "The image is coming to life",
            "first_frame_url": "https://x.example/x.jpg",
        },
        "parameters": {"size": "720x1280", "duration": 4},
    }
    poll = modelverse.build_poll("task_id_1")
    assert (poll.method, poll.path, poll.params) == (
        "GET",
        "tasks/status",
        {"task_id": "task_id_1"},
    )
    assert modelverse.auth_prefix == ""  # "Authorization: <YOUR_API_KEY>" in their examples
    # No image, no size: those keys are left out, not sent empty.
    bare = modelverse.build_create(
        VideoRequest("p", "m"), [ImageFile("a.png", b"\x89PNG", "image/png")]
    )
    assert bare.json["input"]["first_frame_url"].startswith("data:image/png;base64,")
    assert "parameters" not in bare.json


def test_modelverse_answers(modelverse):
    created = modelverse.parse_job({"output": {"task_id": "task_id"}, "request_id": "request_id"})
    assert (created.id, created.status) == ("task_id", "in_progress")  # no status yet: running
    running = modelverse.parse_job({"output": {"task_id": "t", "task_status": "Running"}})
    assert running.status == "in_progress"
    done = modelverse.parse_job(
        {
            "output": {
                "task_id": "task_id",
                "task_status": "Success",
                "urls": ["https://xxxxx/xxxx.mp4"],
                "submit_time": 1756959000,
                "finish_time": 1756959050,
            },
            "usage": {"duration": 4},
            "request_id": "",
        }
    )
    assert done.status == "completed" and done.video_url == "https://xxxxx/xxxx.mp4"
    failed = modelverse.parse_job(
        {"output": {"task_id": "t", "task_status": "Failure", "error_message": "bad frame"}}
    )
    assert (failed.status, failed.error) == ("failed", "bad frame")


def test_apixo_requests_and_answers(apixo):
    # apixo.ai/docs/api-reference/generate-task and status-task
    create = apixo.build_create(VideoRequest("a fox", "sora-2-pro", orientation="landscape"))
    assert create.path == "generateTask/sora-2-pro"
    assert create.json == {
        "request_type": "async",
        "input": {"mode": "text-to-video", "prompt": "a fox", "aspect_ratio": "16:9"},
    }
    poll = apixo.build_poll("task_abc123xyz789")
    assert (poll.path, poll.params) == ("statusTask/sora-2-pro", {"taskId": "task_abc123xyz789"})
    created = apixo.parse_job(
        {"code": 200, "message": "success", "data": {"taskId": "task_abc123xyz789"}}
    )
    assert created.id == "task_abc123xyz789"
    running = apixo.parse_job(
        {
            "code": 200,
            "message": "success",
            "data": {"taskId": "t", "state": "processing", "createTime": 1704067200000},
        }
    )
    assert running.status == "in_progress" and running.created_at.year == 2024  # milliseconds
    done = apixo.parse_job(
        {
            "code": 200,
            "message": "success",
            "data": {
                "taskId": "t",
                "state": "success",
                "resultJson": json.dumps(
                    {"resultUrls": ["https://cdn.apixo.ai/output/abc123.mp4"]}
                ),
                "costTime": 12500,
            },
        }
    )
    assert done.status == "completed" and done.video_url == "https://cdn.apixo.ai/output/abc123.mp4"
    failed = apixo.parse_job(
        {
            "code": 200,
            "message": "success",
            "data": {
                "taskId": "t",
                "state": "failed",
                "failCode": "CONTENT_VIOLATION",
                "failMsg": "Content violates usage policy",
            },
        }
    )
    assert (failed.status, failed.error) == ("failed", "Content violates usage policy")


def test_a_described_relay_runs_the_whole_lifecycle(modelverse, tmp_path):
    from sora_nb import runs

    prepared = runs.prepare(
        VideoRequest("a fox", "openai/sora-2/text-to-video", duration=4), modelverse
    )
    answers = [
        {"output": {"task_id": "t-9"}, "request_id": "r"},
        {"output": {"task_id": "t-9", "task_status": "Pending"}},
        {"output": {"task_id": "t-9", "task_status": "Success", "urls": ["https://c/x.mp4"]}},
    ]
    from sora_nb.flows import Reply

    driver = Driver([Reply(200, {}, json.dumps(a).encode()) for a in answers])
    outcome = driver.run(runs.video(prepared, driver.ctx(), out_dir=tmp_path))
    assert outcome.job.ok and outcome.job.dialect == "modelverse"
    assert [r.params for r in driver.sent[1:]] == [{"task_id": "t-9"}] * 2


def test_every_mistake_is_its_own_line():
    with pytest.raises(ConfigError) as info:
        dialects.described(
            "broken",
            {
                "create": {"method": "FETCH"},
                "words": {"Done": "finished"},
                "id": "output.task_id",
                "auth": "token",
                "colour": "red",
                "poll": {"path": "q", "query": {"id": "{task}"}},
            },
        )
    lines = str(info.value).splitlines()
    assert lines[0] == "dialect 'broken':"
    problems = "\n".join(lines[1:])
    for needle in (
        "unknown settings colour",
        "create.path is missing",
        "create.method 'FETCH'",
        "words.Done: 'finished' is not one of",
        'auth: \'token\' is not "bearer" or "bare"',
        "poll.query.id: '{task}' is not a placeholder",
    ):
        assert needle in problems, problems
    assert len(lines) == 7  # the header and one line per mistake


def test_user_descriptions_load_from_the_config_folder(tmp_path, monkeypatch):
    folder = tmp_path / "config"
    (folder / "dialects").mkdir(parents=True)
    (folder / "dialects" / "modelverse.toml").write_text((DOCS / "modelverse.toml").read_text())
    monkeypatch.setenv("SORA_NB_CONFIG_DIR", str(folder))
    monkeypatch.setattr(dialects, "_user_loaded", False)
    try:
        assert "modelverse" not in dialects.names()
        assert dialects.get("ModelVerse").name == "modelverse"  # found on first look-up
    finally:
        dialects.unregister("modelverse")


def test_a_bad_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "dialects.toml"
    bad.write_text("[dialects.x]\ncreate = ")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        dialects.load_file(bad)
    bad.write_text("[other]\n")
    with pytest.raises(ConfigError, match="describes no"):
        dialects.load_file(bad)


def test_paths_read_into_json_strings_and_lists():
    data = {"data": {"resultJson": '{"resultUrls": ["u0", "u1"]}', "list": [{"a": 1}]}}
    assert dig_path(data, "data.resultJson.resultUrls.1") == "u1"
    assert dig_path(data, "data.list.0.a") == 1
    assert dig_path(data, "data.list.5.a") is None and dig_path(data, "nope.x") is None
