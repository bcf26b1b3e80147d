"""The dialect registry, and a family added from outside (docs/architecture.md's example)."""

from __future__ import annotations

import json

import pytest

from sora_nb import _exceptions as E
from sora_nb import dialects, runs
from sora_nb.config import resolve_dialect
from sora_nb.dialects import Abilities, Dialect, HttpRequest
from sora_nb.flows import Reply
from sora_nb.models import Job, VideoRequest, normalize_status, to_progress
from tests.unit.test_runs import Driver


class TasksRelay(Dialect):
    name = "tasks-test"
    abilities = Abilities(poll=True, images=("url",))
    rules = None

    def build_create(self, request, images=()):
        body = {"model": request.model, "input": {"prompt": request.prompt}}
        return HttpRequest("POST", "tasks/submit", "create", json=body)

    def build_poll(self, job_id):
        return HttpRequest("GET", "tasks/status", "poll", params={"task_id": job_id})

    def parse_job(self, body, headers=None, *, prompt=None, model=None):
        out = body.get("output") or {}
        return Job(
            id=out["task_id"],
            status=normalize_status(out.get("task_status")),
            dialect=self.name,
            progress=to_progress(out.get("progress")),
            video_url=(out.get("urls") or [None])[0],
            model=model,
            prompt=prompt,
            raw=body,
        )


@pytest.fixture
def tasks():
    family = dialects.register(TasksRelay())
    yield family
    dialects.unregister(family.name)


def test_builtin_names_and_lookup():
    assert dialects.names()[:3] == ("unified", "openai", "chat")
    assert dialects.get(" OpenAI ") is dialects.openai.OPENAI
    with pytest.raises(E.ConfigError, match="unknown dialect 'nope': use one of unified, openai"):
        dialects.get("nope")


def test_register_refuses_clashes_and_non_dialects(tasks):
    with pytest.raises(E.ConfigError, match="registered already"):
        dialects.register(TasksRelay())
    dialects.register(TasksRelay(), replace=True)
    imposter = TasksRelay()
    imposter.name = "openai"
    with pytest.raises(E.ConfigError, match="built-in dialect"):
        dialects.register(imposter)
    with pytest.raises(E.ConfigError, match=r"not a sora_nb\.dialects\.Dialect"):
        dialects.register(object())  # type: ignore[arg-type]
    nameless = TasksRelay()
    nameless.name = "two words"
    with pytest.raises(E.ConfigError, match="without spaces"):
        dialects.register(nameless)


def test_a_registered_family_is_a_dialect_everywhere(tasks):
    assert tasks.name in dialects.names()
    assert resolve_dialect("tasks-test", env={}) == "tasks-test"
    dialects.unregister(tasks.name)
    with pytest.raises(E.ConfigError):
        resolve_dialect("tasks-test", env={})
    dialects.register(tasks)


def test_a_registered_family_runs_the_whole_lifecycle(tasks, tmp_path):
    prepared = runs.prepare(VideoRequest("a fox", "any-model", duration=7), tasks)
    assert prepared.create.path == "tasks/submit"
    answers = [
        {"output": {"task_id": "t-1", "task_status": "PENDING"}},
        {"output": {"task_id": "t-1", "task_status": "RUNNING", "progress": "40%"}},
        {"output": {"task_id": "t-1", "task_status": "SUCCEEDED", "urls": ["https://c/x.mp4"]}},
    ]
    driver = Driver([Reply(200, {}, json.dumps(a).encode()) for a in answers])
    outcome = driver.run(runs.video(prepared, driver.ctx(), out_dir=tmp_path))
    assert [r.params for r in driver.sent[1:]] == [{"task_id": "t-1"}] * 2
    assert outcome.job.ok and outcome.path == tmp_path / "t-1.mp4"
    assert driver.kinds() == [
        "Submitting",
        "Submitted",
        "Progressed",
        "Progressed",
        "Finished",
        "Saved",
    ]


def test_what_a_family_cannot_do_is_one_line_before_sending():
    with pytest.raises(E.ValidationError, match="the chat dialect cannot report a job's status"):
        dialects.get("chat").build_poll("task_1")
    with pytest.raises(E.ValidationError, match="the unified dialect cannot delete videos"):
        dialects.get("unified").build_delete("task_1")
