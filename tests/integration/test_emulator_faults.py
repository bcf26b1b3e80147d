"""Each fault action, as a client over a real socket observes it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from sora_nb.emulator import Emulator, Fault, serve
from tests.emulator_fixtures import parse_sse, run_async, unified_body

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with serve(job_seconds=0.1, seed=31, video_padding=1 << 20) as e:
        yield e


@pytest.fixture(autouse=True)
def _clean(emu: Emulator) -> None:
    emu.clear_faults()
    emu.reset_counters()


@pytest.fixture
def client(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url, timeout=10) as c:
        yield c


def completed_video(client: httpx.Client, emu: Emulator) -> str:
    vid = client.post("/videos", json={"prompt": "faults"}).json()["id"]
    deadline = time.monotonic() + 10
    while emu.jobs[vid].status != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return vid


@pytest.mark.parametrize("status", [500, 502, 503])
def test_status_fault_then_normal(emu: Emulator, client: httpx.Client, status: int) -> None:
    emu.add_fault(Fault(kind="create", action="status", status=status, times=1))
    r = client.post("/video/create", json=unified_body())
    assert r.status_code == status
    err = r.json()["error"]
    assert err["message"] and err["type"]
    assert len(emu.jobs) == 0 or all(j not in r.text for j in emu.jobs)
    before = len(emu.jobs)
    assert client.post("/video/create", json=unified_body()).status_code == 200
    assert len(emu.jobs) == before + 1
    assert emu.faults == []
    assert emu.counters["create"] == 2


def test_rate_limit_with_retry_after_and_custom_message(
    emu: Emulator, client: httpx.Client
) -> None:
    emu.add_fault(
        Fault(kind="poll", status=429, headers={"Retry-After": "1"}, message="slow down", times=2)
    )
    vid = client.post("/videos", json={"prompt": "p"}).json()["id"]
    for _ in range(2):
        r = client.get(f"/videos/{vid}")
        assert r.status_code == 429
        assert r.headers["retry-after"] == "1"
        assert r.json()["error"] == {
            "message": "slow down",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    assert client.get(f"/videos/{vid}").status_code == 200
    assert emu.counters["poll"] == 3


@pytest.mark.parametrize("fault", [Fault(kind="create", quota=True), Fault(action="quota")])
def test_quota_fault(emu: Emulator, client: httpx.Client, fault: Fault) -> None:
    emu.add_fault(fault)
    for _ in range(2):  # no `times`: it stays
        r = client.post("/videos", json={"prompt": "p"})
        assert r.status_code == 429
        assert r.json()["error"]["type"] == "insufficient_quota"
        assert r.json()["error"]["code"] == "insufficient_quota"


def test_reset_on_create_still_creates_the_job(emu: Emulator, client: httpx.Client) -> None:
    emu.add_fault(Fault(kind="create", action="reset", times=1))
    before = set(emu.jobs)
    with pytest.raises(httpx.ReadError):  # ECONNRESET: "Connection reset by peer"
        client.post("/video/create", json=unified_body(prompt="lost answer"))
    new = set(emu.jobs) - before
    assert len(new) == 1
    job = emu.jobs[new.pop()]
    assert job.prompt == "lost answer"
    time.sleep(0.2)
    assert emu.jobs[job.id].status == "completed"
    assert emu.counters["create"] == 1
    # The same client keeps working on a fresh connection.
    assert client.post("/video/create", json=unified_body()).status_code == 200


def test_close_on_poll_is_a_disconnect_without_answer(emu: Emulator, client: httpx.Client) -> None:
    emu.add_fault(Fault(kind="poll", action="close", times=1))
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        client.get("/video/query", params={"id": "x"})
    assert client.get("/video/query", params={"id": "x"}).status_code == 404


def test_reset_async_client(emu: Emulator) -> None:
    async def go() -> None:
        async with httpx.AsyncClient(base_url=emu.base_url) as ac:
            emu.add_fault(Fault(kind="any", action="reset", times=1))
            with pytest.raises(httpx.ReadError):
                await ac.get("/videos")
            assert (await ac.get("/videos")).status_code == 200

    run_async(go)


def test_slow_answer_and_timeout_after_create(emu: Emulator, client: httpx.Client) -> None:
    emu.add_fault(Fault(kind="poll", action="slow", delay=0.3, times=1))
    t0 = time.monotonic()
    assert client.get("/videos").status_code == 200  # a list is not a poll: not delayed
    assert client.get("/video/query", params={"id": "x"}).status_code == 404
    assert time.monotonic() - t0 >= 0.3

    emu.add_fault(Fault(kind="create", action="slow", delay=0.5, times=1))
    before = len(emu.jobs)
    with pytest.raises(httpx.ReadTimeout):
        client.post("/videos", json={"prompt": "timed out"}, timeout=0.15)
    assert len(emu.jobs) == before + 1  # it was created although the client gave up


def test_malformed_json(emu: Emulator, client: httpx.Client) -> None:
    emu.add_fault(Fault(kind="create", action="malformed", times=1))
    r = client.post("/videos", json={"prompt": "p"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        r.json()
    assert r.text.startswith('{"id":"video_')
    emu.add_fault(Fault(kind="chat", action="malformed", times=1))
    r = client.post("/chat/completions", json={"model": "gpt-4", "messages": [
        {"role": "user", "content": "x"}]})  # fmt: skip
    with pytest.raises(json.JSONDecodeError):
        r.json()
    vid = completed_video(client, emu)
    emu.add_fault(Fault(kind="download", action="malformed", times=1))
    page = client.get(f"/videos/{vid}/content")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html"
    assert page.content.startswith(b"<html>")


def test_cut_stream_chat(emu: Emulator, client: httpx.Client) -> None:
    emu.add_fault(Fault(kind="chat", action="cut_stream", after_chunks=3, times=1))
    body = {
        "model": "gpt-4",
        "messages": [{"role": "user", "content": "a b c d e f"}],
        "stream": True,
    }
    received = b""
    with (
        pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"),
        client.stream("POST", "/chat/completions", json=body) as r,
    ):
        assert r.status_code == 200
        for piece in r.iter_raw():
            received += piece
    sse = parse_sse(received)
    assert len(sse.chunks) == 3
    assert not sse.done
    assert all(c["choices"][0]["finish_reason"] is None for c in sse.chunks)
    whole = parse_sse(client.post("/chat/completions", json=body).content)
    assert whole.done and whole.text.startswith(sse.text)


def test_cut_stream_video_chat(emu: Emulator, client: httpx.Client) -> None:
    emu.add_fault(Fault(kind="chat", action="cut_stream", after_chunks=2, times=1))
    body = {"model": "sora-2", "messages": [{"role": "user", "content": "cut"}], "stream": True}
    received = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", "/chat/completions", json=body) as r,
    ):
        for piece in r.iter_raw():
            received += piece
    sse = parse_sse(received)
    assert len(sse.chunks) == 2 and "> ID: `task_" in sse.text


def test_cut_stream_download(emu: Emulator, client: httpx.Client) -> None:
    vid = completed_video(client, emu)
    emu.add_fault(Fault(kind="download", action="cut_stream", after_chunks=1, times=1))
    got = 0
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("GET", f"/videos/{vid}/content") as r,
    ):
        total = int(r.headers["content-length"])
        for piece in r.iter_raw():
            got += len(piece)
    assert 0 < got < total
    assert len(client.get(f"/videos/{vid}/content").content) == total


def test_fail_job_fault(emu: Emulator, client: httpx.Client) -> None:
    emu.add_fault(Fault(kind="create", action="fail_job", message="upstream said no", times=1))
    assert client.get("/videos").status_code == 200  # not spent on a request it can't affect
    first = client.post("/videos", json={"prompt": "p"}).json()
    second = client.post("/videos", json={"prompt": "p"}).json()
    assert first["status"] == "queued"  # accepted
    time.sleep(0.2)
    failed = client.get(f"/videos/{first['id']}").json()
    assert failed["status"] == "failed"
    assert failed["error"]["message"] == "upstream said no"
    assert 0 < failed["progress"] < 100
    assert client.get(f"/videos/{second['id']}").json()["status"] == "completed"

    emu.add_fault(Fault(kind="create", action="fail_job", times=1))
    jid = client.post("/video/create", json=unified_body()).json()["id"]
    time.sleep(0.2)
    q = client.get("/video/query", params={"id": jid}).json()
    assert q["status"] == "failed" and q["error"].startswith("content policy violation")


def test_cdn_fault_and_any_kind(emu: Emulator, client: httpx.Client) -> None:
    jid = client.post("/video/create", json=unified_body()).json()["id"]
    time.sleep(0.2)
    url = client.get("/video/query", params={"id": jid}).json()["video_url"]
    emu.add_fault(Fault(kind="cdn", status=503, times=1))
    assert httpx.get(url).status_code == 503
    assert httpx.get(url).status_code == 200
    emu.add_fault(Fault(kind="any", status=502, times=3))
    assert client.get("/videos").status_code == 502
    assert httpx.get(url).status_code == 502
    assert client.post("/images/generations", json={"prompt": "x"}).status_code == 502
    assert client.get("/videos").status_code == 200
    assert emu.counters["cdn"] == 3


def _rate_pattern(seed: int) -> list[int]:
    with (
        serve(seed=seed, faults=[Fault(kind="list", status=500, rate=0.5)]) as e,
        httpx.Client(base_url=e.base_url) as c,
    ):
        return [c.get("/videos").status_code for _ in range(24)]


def test_rate_is_seeded() -> None:
    a, b, c = _rate_pattern(3), _rate_pattern(3), _rate_pattern(4)
    assert a == b
    assert a != c
    assert 3 <= a.count(500) <= 21


def test_fault_validation() -> None:
    with pytest.raises(ValueError):
        Fault(kind="everything")
    with pytest.raises(ValueError):
        Fault(action="explode")
    with pytest.raises(ValueError):
        Fault(rate=1.5)
    fault = Fault(kind="poll", times=2)
    with serve(faults=[fault]) as e:
        httpx.get(f"{e.base_url}/videos/x")
        assert e.faults[0].times == 1
        assert fault.times == 2  # the caller's object is not consumed
