"""Which routes an emulator serves (`families=`, `videos_flavor=`) and how each request is counted,
as pure functions of the config; the wire tests are in tests/integration/test_emulator_newapi.py.
"""

from __future__ import annotations

import pytest

from sora_nb.emulator.config import FAMILIES, EmulatorConfig
from sora_nb.emulator.front import classify, family, serves


@pytest.mark.parametrize(
    ("method", "path", "kind", "fam"),
    [
        ("POST", "/v1/video/generations", "create", "tasks"),
        ("GET", "/v1/video/generations/task_x", "poll", "tasks"),
        ("GET", "/v1/video/generations/task_x/", "poll", "tasks"),
        ("GET", "/v1/videos/task_x/content", "download", "content"),
        ("GET", "/v1/dashboard/billing/subscription", "billing", "billing"),
        ("GET", "/dashboard/billing/usage", "billing", "billing"),
        ("POST", "/v1/video/create", "create", "unified"),
        ("GET", "/v1/videos", "list", "videos"),
        ("DELETE", "/v1/videos/x", "delete", "videos"),
        ("GET", "/v1/models", "other", "models"),
        ("GET", "/v1/tasks/status", "other", None),
    ],
)
def test_kinds_and_families(method: str, path: str, kind: str, fam: str | None) -> None:
    assert classify(method, path) == kind
    assert family(path) == fam


def test_families_switch_routes_off() -> None:
    only_tasks = EmulatorConfig(families=("tasks",))
    assert serves(only_tasks, "POST", "/v1/video/generations")
    assert not serves(only_tasks, "POST", "/v1/video/create")
    assert not serves(only_tasks, "POST", "/v1/chat/completions")
    assert not serves(only_tasks, "GET", "/v1/models")
    # new-api's content proxy lives in its task router (router/video-router.go).
    assert serves(only_tasks, "GET", "/v1/videos/x/content")
    assert not serves(EmulatorConfig(families=("chat",)), "GET", "/v1/videos/x/content")
    # Unknown paths are the router's business either way.
    assert serves(only_tasks, "GET", "/v1/elsewhere")
    everything = EmulatorConfig()
    assert everything.families == FAMILIES
    assert all(serves(everything, "GET", p) for p in ("/v1/videos", "/v1/dashboard/billing/usage"))


def test_newapi_flavor_leaves_list_and_delete_unrouted() -> None:
    # router/video-router.go: no GET /v1/videos and no DELETE /v1/videos/{id}.
    cfg = EmulatorConfig(videos_flavor="newapi")
    assert not serves(cfg, "GET", "/v1/videos")
    assert not serves(cfg, "DELETE", "/v1/videos/task_x")
    assert serves(cfg, "POST", "/v1/videos")
    assert serves(cfg, "GET", "/v1/videos/task_x")
    assert serves(cfg, "POST", "/v1/videos/task_x/remix")


def test_new_knobs_are_validated() -> None:
    assert EmulatorConfig(families="tasks, billing").families == ("tasks", "billing")
    assert EmulatorConfig(families=["chat"]).families == ("chat",)
    assert EmulatorConfig(families=()).families == ()
    for bad in (
        {"families": ("tasks", "nope")},
        {"videos_flavor": "kling"},
        {"chat_flavor": "sora"},
        {"sora2api_failure": "silent"},
        {"sora2api_status_interval": -1},
        {"billing_granted": -1},
        {"billing_used": -0.5},
    ):
        with pytest.raises(ValueError):
            EmulatorConfig(**bad)  # type: ignore[arg-type]
