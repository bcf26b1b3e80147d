"""Which families a relay serves, read from the answers real relays give to a GET of a status
route for an id they do not have (nothing is created). Each answer cites its source."""

from __future__ import annotations

import json

import pytest

from sora_nb import dialects
from sora_nb.dialects.probe import PROBE_ID, classify, probes
from sora_nb.probing import ProbeResult


@pytest.mark.parametrize(
    ("status", "body", "verdict"),
    [
        # new-api controller/relay.go RelayNotFound: the route is not there.
        (
            404,
            {
                "error": {
                    "message": "Invalid URL (GET /v1/video/query)",
                    "type": "invalid_request_error",
                    "param": "",
                    "code": "",
                }
            },
            "missing",
        ),
        # new-api relay/relay_task.go: a known task route, an unknown task.
        (400, {"code": "task_not_exist", "message": "task_not_exist", "data": None}, "served"),
        # OpenAI's /v1/videos/{id} for an unknown id.
        (
            404,
            {
                "error": {
                    "message": "Video with id 'sora-nb-probe' not found.",
                    "type": "invalid_request_error",
                }
            },
            "served",
        ),
        # sora2api src/api/sora_routes.py: known route, unknown task.
        (404, {"error": {"message": "Task not found", "type": "invalid_request_error"}}, "served"),
        # go-sora2api server/handler: 404 "任务不存在" (task does not exist).
        (404, {"error": {"message": "任务不存在"}}, "served"),
        # FastAPI's own 404 for a route the app lacks (sora2api has no /v1/video/query).
        (404, {"detail": "Not Found"}, "missing"),
        # A dashboard's HTML, or nothing at all.
        (404, "<html><body>404</body></html>", "missing"),
        (404, "", "missing"),
        # The route is there, the method or the id is judged.
        (405, {"error": {"message": "Method Not Allowed"}}, "served"),
        # A server that answers anything with a page or a file says nothing about the route.
        (200, "<html><body>dashboard</body></html>", "unsure"),
        (200, {"id": "sora-nb-probe", "status": "queued"}, "served"),
        # The key, a limit or the relay's own trouble say nothing about the route.
        (401, {"error": {"message": "无效的令牌"}}, "unsure"),
        (429, "", "unsure"),
        (502, "<html>Bad Gateway</html>", "unsure"),
    ],
)
def test_status_route_answers(status, body, verdict):
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    assert classify(status, text) == verdict


def test_chat_is_known_by_its_model_list():
    listing = json.dumps({"object": "list", "data": [{"id": "sora-2", "object": "model"}]})
    assert classify(200, listing, streams=True) == "served"
    assert classify(404, '{"detail": "Not Found"}', streams=True) == "missing"
    assert classify(401, "{}", streams=True) == "unsure"


def test_every_probe_is_a_get_and_can_create_nothing():
    sent = probes([dialects.get(n) for n in dialects.names()])
    assert {name for name, _ in sent} >= {"unified", "openai", "newapi", "chat"}
    for _name, request in sent:
        assert request.method == "GET" and not request.creates
        assert (
            PROBE_ID in (request.path + json.dumps(request.params or {}))
            or request.path == "models"
        )


def test_the_family_picked_when_several_are_served():
    assert ProbeResult("x", ("unified", "openai", "chat")).best() == "unified"
    assert ProbeResult("x", ("openai", "newapi", "chat")).best() == "openai"
    assert ProbeResult("x", ("newapi", "chat")).best() == "newapi"
    assert ProbeResult("x", ("chat",)).best() == "chat"
    assert ProbeResult("x", ()).best() is None
    line = ProbeResult("http://r/v1", ("unified", "chat"), ("openai",), ("newapi",), 4).line()
    assert line == (
        "http://r/v1 serves unified, chat; did not say for newapi; videos go through unified "
        "(4 GET requests, nothing created)"
    )
