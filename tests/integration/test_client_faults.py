"""Each injected fault, with its documented outcome: nothing lost, no duplicate create.

Faults come from the emulator over real sockets; only "the connection could not be opened"
is made at the transport seam, since a listening server cannot refuse one connection of many.
"""

from __future__ import annotations

import httpx
import pytest

import sora_nb
from sora_nb.emulator import Fault
from tests.conftest import KEY, maybe


class RefuseFirstConnects:
    """Wraps the real transport; the first ``n`` create requests fail to connect."""

    def __init__(self, n: int, asynchronous: bool) -> None:
        self.left = n
        self.inner = httpx.AsyncHTTPTransport() if asynchronous else httpx.HTTPTransport()

    def _refuse(self, request: httpx.Request) -> bool:
        if request.method == "POST" and self.left > 0:
            self.left -= 1
            return True
        return False

    def handle_request(self, request):
        if self._refuse(request):
            raise httpx.ConnectError("connection refused", request=request)
        return self.inner.handle_request(request)

    async def handle_async_request(self, request):
        if self._refuse(request):
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)

    def close(self):
        self.inner.close()

    async def aclose(self):
        await self.inner.aclose()


async def _generate(client, **kw):
    return await maybe(client.generate_video("a kite", **kw))


@pytest.mark.parametrize(
    "status,headers", [(503, {}), (502, {}), (500, {}), (429, {"Retry-After": "0.2"}), (429, {})]
)
def test_poll_errors_are_ridden_out(emu, run_client, status, headers):
    emu.add_fault(Fault(kind="poll", action="status", status=status, headers=headers, times=2))
    job = run_client(emu, _generate)
    assert job.status == "completed"
    assert emu.counters["create"] == 1 and len(emu.jobs) == 1


@pytest.mark.parametrize("action", ["reset", "malformed"])
def test_poll_resets_and_garbage_are_ridden_out(emu, run_client, action):
    emu.add_fault(Fault(kind="poll", action=action, times=3))
    job = run_client(emu, _generate)
    assert job.status == "completed" and emu.counters["create"] == 1


def test_slow_poll_past_the_timeout_is_ridden_out(emu, run_client):
    emu.add_fault(Fault(kind="poll", action="slow", delay=1.0, times=1))
    job = run_client(emu, _generate, timeout=0.3)
    assert job.status == "completed" and emu.counters["create"] == 1


def test_create_rate_limited_is_retried_once_and_creates_one_job(emu, run_client):
    emu.add_fault(
        Fault(kind="create", action="status", status=429, headers={"Retry-After": "0.1"}, times=1)
    )
    job = run_client(emu, _generate)
    assert job.status == "completed"
    assert emu.counters["create"] == 2 and len(emu.jobs) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_create_server_error_is_not_retried(emu, run_client, status):
    emu.add_fault(Fault(kind="create", action="status", status=status, times=1))

    async def scenario(client):
        with pytest.raises(sora_nb.ServerError) as info:
            await _generate(client)
        return info.value

    exc = run_client(emu, scenario)
    assert exc.status_code == status and str(status) in str(exc)
    assert emu.counters["create"] == 1


def test_create_quota_is_not_retried(emu, run_client):
    emu.add_fault(Fault(kind="create", action="quota", times=5))

    async def scenario(client):
        with pytest.raises(sora_nb.QuotaExceeded) as info:
            await _generate(client)
        return info.value

    exc = run_client(emu, scenario)
    assert "429" in str(exc) and emu.counters["create"] == 1


@pytest.mark.parametrize("action,timeout", [("reset", 60.0), ("slow", 0.3)])
def test_create_answer_lost_is_never_resent(emu, run_client, action, timeout):
    emu.add_fault(Fault(kind="create", action=action, delay=1.0, times=1))

    async def scenario(client):
        with pytest.raises(sora_nb.SubmissionUnknown) as info:
            await _generate(client)
        return info.value

    exc = run_client(emu, scenario, timeout=timeout)
    assert "not sent again" in str(exc)
    assert emu.counters["create"] == 1  # exactly one create ever reached the server


def test_create_connect_failure_is_retried(emu, run_client):
    transport = RefuseFirstConnects(2, asynchronous=run_client.kind == "async")
    job = run_client(emu, _generate, transport=transport)
    assert job.status == "completed"
    assert transport.left == 0
    assert emu.counters["create"] == 1 and len(emu.jobs) == 1


def test_failed_generation_carries_the_reason(emu, run_client):
    async def scenario(client):
        with pytest.raises(sora_nb.GenerationFailed) as info:
            await maybe(client.generate_video("a kite [fail]"))
        return info.value

    exc = run_client(emu, scenario)
    assert exc.reason and exc.reason in str(exc)
    assert exc.job.status == "failed" and exc.job.id


def test_fail_job_fault_on_openai_dialect(emu, run_client):
    emu.add_fault(Fault(kind="create", action="fail_job", message="upstream moderation", times=1))

    async def scenario(client):
        with pytest.raises(sora_nb.GenerationFailed) as info:
            await _generate(client, dialect="openai", duration=4)
        return info.value

    exc = run_client(emu, scenario)
    assert "upstream moderation" in exc.reason


def test_poll_timeout_keeps_the_job_id_and_the_job_can_be_resumed(emu, run_client):
    emu.set(job_seconds=1.5)

    async def scenario(client):
        with pytest.raises(sora_nb.PollTimeout) as info:
            await _generate(client, timeout=0.3)
        resumed = await maybe(client.wait(info.value.job_id, timeout=30))
        return info.value, resumed

    exc, resumed = run_client(emu, scenario)
    assert exc.job_id in str(exc)
    assert resumed.id == exc.job_id and resumed.status == "completed"
    assert emu.counters["create"] == 1


def test_chat_stream_cut_keeps_text_and_task_id(emu, run_client):
    emu.add_fault(Fault(kind="chat", action="cut_stream", after_chunks=6, times=1))

    async def scenario(client):
        with pytest.raises(sora_nb.StreamInterrupted) as info:
            await maybe(client.generate_video("a fox", dialect="chat"))
        return info.value

    exc = run_client(emu, scenario)
    assert "ended early" in str(exc)
    assert exc.text and exc.task_id and exc.task_id in exc.text
    assert exc.task_id in str(exc)


def test_download_survives_a_cdn_error_and_a_reset(emu, run_client, tmp_path):
    async def scenario(client):
        job = await _generate(client)
        emu.add_fault(Fault(kind="cdn", action="status", status=503, times=1))
        emu.add_fault(Fault(kind="cdn", action="reset", times=1))
        return await maybe(client.download(job, tmp_path))

    path = run_client(emu, scenario)
    assert path.stat().st_size > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp file left
    assert all("authorization" not in r["headers"] for r in emu.cdn_requests)


def test_download_failure_leaves_nothing_behind(emu, run_client, tmp_path):
    async def scenario(client):
        job = await _generate(client)
        emu.add_fault(Fault(kind="cdn", action="status", status=404, times=10))
        with pytest.raises(sora_nb.NotFoundError):
            await maybe(client.download(job, tmp_path))

    run_client(emu, scenario)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_gateway_is_one_clear_line(run_client):
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    class Dead:
        base_url = f"http://127.0.0.1:{port}/v1"

    async def scenario(client):
        with pytest.raises(sora_nb.ConnectError) as info:
            await maybe(client.get_job("task_x"))
        return info.value

    exc = run_client(Dead, scenario, retries=1)
    assert "could not connect" in str(exc) and "\n" not in str(exc)
    assert KEY not in str(exc)
