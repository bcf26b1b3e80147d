"""Answers that never end, never stop growing, or are not what they say: every read is bounded
by the wait's deadline and a size cap, and a download must be a video."""

from __future__ import annotations

import json

import pytest

import sora_nb
from sora_nb.client import MAX_ANSWER_BYTES
from sora_nb.models import Job
from tests.conftest import KEY, maybe
from tests.hostile import Answer, drip, hostile_relay, huge, once

PENDING = json.dumps({"id": "task_1", "status": "pending"}).encode()


def test_a_drip_fed_poll_answer_cannot_hold_a_wait_past_its_timeout(run_client):
    with hostile_relay() as relay:
        # 35 bytes, one every 0.3 s: about 10 s for one answer, against a 1.5 s timeout.
        relay.answer("GET", "/v1/video/query", Answer(drip(PENDING), delay=0.3))

        async def scenario(client):
            with pytest.raises(sora_nb.PollTimeout) as info:
                await maybe(client.wait("task_1", timeout=1.5))
            return info.value

        error = run_client(relay, scenario, dialect="unified")
        assert error.job_id == "task_1"
        # The client stopped reading mid-answer: before the fix it read every dripped byte.
        assert relay.served and not relay.served[0].completed
        assert relay.served[0].sent < len(PENDING)


def test_an_endless_answer_is_not_read_into_memory(run_client):
    pad = MAX_ANSWER_BYTES + (8 << 20)
    with hostile_relay() as relay:
        # Valid JSON, 40 MiB of it: read whole, it would parse.
        relay.answer(
            "GET",
            "/v1/video/query",
            Answer(huge(b'{"id": "task_1", "status": "pending"', pad, b"}")),
        )

        async def scenario(client):
            with pytest.raises(sora_nb.ProtocolError) as info:
                await maybe(client.get_job("task_1"))
            return info.value

        error = run_client(relay, scenario, dialect="unified", retries=0)
        # Before the cap, the whole answer was read (and parsed: it is valid JSON).
        assert "MiB" in str(error) and "stopped reading" in str(error)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/html; charset=utf-8", b"<html><body>502 Bad Gateway</body></html>"),
        ("application/octet-stream", b"<html><body>expired link</body></html>" * 3),
        ("application/json", b'{"error": {"message": "link expired"}}'),
    ],
)
def test_a_download_that_is_not_a_video_leaves_nothing(run_client, tmp_path, content_type, body):
    with hostile_relay() as relay:
        relay.answer(
            "GET", "/cdn/v.mp4", Answer(once(body), headers={"content-type": content_type})
        )
        job = Job(
            id="task_1",
            status="completed",
            dialect="unified",
            video_url=f"{relay.origin}/cdn/v.mp4",
        )

        async def scenario(client):
            with pytest.raises(sora_nb.ProtocolError) as info:
                await maybe(client.download(job, tmp_path))
            return info.value

        error = run_client(relay, scenario)
    assert "not a video" in str(error) and "nothing was saved" in str(error)
    assert list(tmp_path.iterdir()) == []  # no .mp4 and no half-written .part


def test_a_real_video_with_an_odd_content_type_is_kept(run_client, tmp_path):
    mp4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
    with hostile_relay() as relay:
        relay.answer(
            "GET", "/cdn/v.mp4", Answer(once(mp4), headers={"content-type": "binary/octet-stream"})
        )
        job = Job(
            id="task_1",
            status="completed",
            dialect="unified",
            video_url=f"{relay.origin}/cdn/v.mp4",
        )

        async def scenario(client):
            return await maybe(client.download(job, tmp_path))

        path = run_client(relay, scenario)
    assert path.read_bytes() == mp4


def test_a_video_through_chat_stops_at_its_timeout(emu, run_client):
    # The render takes 6 s; the stream stays open and streams progress meanwhile.
    emu.set(job_seconds=6.0)

    async def scenario(client):
        with pytest.raises(sora_nb.StreamInterrupted) as info:
            await maybe(client.generate_video("a slow comet", dialect="chat", timeout=1.5))
        return info.value

    error = run_client(emu, scenario)
    assert "no answer in time" in str(error) or "time" in str(error)
    assert error.task_id  # what was seen is kept: the relay may still finish it
    assert emu.counters["create"] + emu.counters["chat"] == 1


@pytest.mark.parametrize(
    ("error", "kind", "words"),
    [
        (
            {"message": "该令牌额度已用尽", "type": "insufficient_quota"},
            sora_nb.QuotaExceeded,
            "额度",
        ),
        ({"message": "Incorrect API key provided"}, sora_nb.AuthenticationError, "Incorrect"),
        (
            {"message": "model sora-9 does not exist", "code": "model_not_found"},
            sora_nb.BadRequestError,
            "sora-9",
        ),
    ],
)
def test_an_error_object_sent_with_200_is_the_gateways_answer(run_client, error, kind, words):
    # It used to surface as "the video answer has no job id", hiding the relay's own words.
    with hostile_relay() as relay:
        relay.answer(
            "POST", "/v1/video/create", Answer(once(json.dumps({"error": error}).encode()))
        )

        async def scenario(client):
            with pytest.raises(sora_nb.SoraError) as info:
                await maybe(client.create_video("a fox", dialect="unified"))
            return info.value

        exc = run_client(relay, scenario)
    assert isinstance(exc, kind), repr(exc)
    assert words in str(exc) and "answered 200 with an error" in str(exc)


def test_a_link_with_a_capital_scheme_is_a_link_not_a_path_on_the_gateway(run_client, tmp_path):
    mp4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
    with hostile_relay() as relay:
        relay.answer("GET", "/cdn/v.mp4", Answer(once(mp4), headers={"content-type": "video/mp4"}))
        link = relay.origin.replace("http://", "HTTP://") + "/cdn/v.mp4"
        job = Job(id="task_1", status="completed", dialect="unified", video_url=link)

        async def scenario(client):
            return await maybe(client.download(job, tmp_path))

        path = run_client(relay, scenario)
        assert [s.path for s in relay.served] == ["/cdn/v.mp4"]  # not /v1/HTTP:/…
    assert path.read_bytes() == mp4


@pytest.mark.parametrize(
    ("make", "kind", "words"),
    [
        # A relay's link that is no URL: one line, not httpx.InvalidURL.
        (
            lambda client, tmp: client.download(
                Job(id="t", status="completed", dialect="unified", video_url="http://[::1/x.mp4"),
                tmp,
            ),
            sora_nb.ProtocolError,
            "cannot request",
        ),
        # A status answer nested past Python's recursion limit: one line, not RecursionError.
        (lambda client, tmp: client.get_job("deep"), sora_nb.ProtocolError, "not valid JSON"),
    ],
)
def test_odd_answers_are_one_line(run_client, tmp_path, make, kind, words):
    with hostile_relay() as relay:
        relay.answer("GET", "/v1/video/query", Answer(once(b"[" * 100_000 + b"]" * 100_000)))

        async def scenario(client):
            with pytest.raises(sora_nb.SoraError) as info:
                await maybe(make(client, tmp_path))
            return info.value

        error = run_client(relay, scenario, dialect="unified", retries=0)
    assert isinstance(error, kind) and words in str(error) and "\n" not in str(error)


@pytest.mark.parametrize("key", ["sk-ключ-123456", "sk-abc\n123456", "sk abc 123456"])
def test_a_key_headers_cannot_carry_is_refused_at_once(key):
    with pytest.raises(sora_nb.ConfigError, match="copied whole") as info:
        sora_nb.Client(base_url="http://127.0.0.1:9/v1", api_key=key)
    assert key not in str(info.value)


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 1e300])
def test_endless_timeouts_are_refused_before_anything_runs(value):
    with pytest.raises(sora_nb.ConfigError):
        sora_nb.Client(base_url="http://127.0.0.1:9/v1", timeout=value)
    with (
        sora_nb.Client(base_url="http://127.0.0.1:9/v1") as client,
        pytest.raises(sora_nb.ValidationError),
    ):
        client.wait("task_1", timeout=value)


def test_two_videos_whose_names_collide_are_both_kept(run_client, tmp_path):
    # Ids that differ only past the 120 characters a file name keeps (-n 2 on some relays).
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    stem = "task_" + "x" * 130
    with hostile_relay() as relay:
        jobs = []
        for n in (1, 2):
            relay.answer(
                "GET",
                f"/cdn/{n}.mp4",
                Answer(once(head + bytes([n]) * 64), headers={"content-type": "video/mp4"}),
            )
            link = f"{relay.origin}/cdn/{n}.mp4"
            jobs.append(Job(id=f"{stem}{n}", status="completed", dialect="unified", video_url=link))

        async def scenario(client):
            return [await maybe(client.download(job, tmp_path)) for job in jobs]

        first, second = run_client(relay, scenario)
    assert first != second and first.exists() and second.exists()
    assert first.read_bytes() != second.read_bytes()
    assert len(list(tmp_path.iterdir())) == 2


def test_a_content_route_answering_json_with_a_link_is_followed_without_the_key(
    run_client, tmp_path
):
    # Some relays' GET /v1/videos/{id}/content answer JSON naming the file instead of the bytes
    # (docs.anyfast.ai … sora-2-download: {"url": …, "video_url": …}). The link is followed; the
    # key goes only to the gateway's own origin, never to the file's.
    mp4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
    with hostile_relay() as gateway, hostile_relay() as cdn:
        cdn.answer("GET", "/files/v.mp4", Answer(once(mp4), headers={"content-type": "video/mp4"}))
        named = {
            "id": "video_1",
            "url": f"{cdn.origin}/files/v.mp4",
            "video_url": f"{cdn.origin}/files/v.mp4",
        }
        gateway.answer(
            "GET", "/v1/videos/video_1/content", Answer(once(json.dumps(named).encode()))
        )
        job = Job(id="video_1", status="completed", dialect="openai")

        async def scenario(client):
            return await maybe(client.download(job, tmp_path))

        path = run_client(gateway, scenario)
        assert path.read_bytes() == mp4
        assert gateway.served[0].headers.get("authorization") == f"Bearer {KEY}"
        assert "authorization" not in cdn.served[0].headers


def test_a_gzip_video_cut_short_is_an_error_not_a_truncated_file(run_client, tmp_path):
    # Complete as HTTP (Content-Length matches what was sent), incomplete as gzip: the decoded
    # file would be silently short. It used to be saved as the video.
    import gzip

    mp4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 64
    whole = gzip.compress(mp4)
    cut = whole[: len(whole) // 2]
    with hostile_relay() as relay:
        for name, body in (("cut", cut), ("whole", whole)):
            relay.answer(
                "GET",
                f"/cdn/{name}.mp4",
                Answer(
                    once(body),
                    headers={
                        "content-type": "video/mp4",
                        "content-encoding": "gzip",
                        "content-length": str(len(body)),
                    },
                ),
            )

        def job(name):
            link = f"{relay.origin}/cdn/{name}.mp4"
            return Job(id=name, status="completed", dialect="unified", video_url=link)

        async def scenario(client):
            with pytest.raises(sora_nb.TransportError, match="ended early"):
                await maybe(client.download(job("cut"), tmp_path))
            return await maybe(client.download(job("whole"), tmp_path))

        path = run_client(relay, scenario, retries=0)
    assert path.read_bytes() == mp4  # a whole gzip stream is decoded as before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["whole.mp4"]
