"""`chat_flavor="sora2api"`: video chat streamed as TheSmallHanCat/sora2api streams it
(src/services/generation_handler.py, src/api/routes.py), over loopback with raw httpx."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest

from sora_nb.emulator import Emulator, serve
from tests.emulator_fixtures import parse_sse, probe_mp4

pytestmark = pytest.mark.timeout(60)

MODEL = "sora2-landscape-10s"  # a sora2api model name (MODEL_CONFIG)


def stream(e: Emulator, prompt: str, **extra: object) -> bytes:
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": prompt}]}
    body.update(extra)
    with httpx.stream("POST", f"{e.base_url}/chat/completions", json=body, timeout=30) as r:
        assert r.status_code == 200  # failures too: they travel inside the stream
        assert r.headers["content-type"].startswith("text/event-stream")
        return r.read()


def delta(chunk: dict) -> dict:
    return chunk["choices"][0]["delta"]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with serve(job_seconds=0.4, seed=12, chat_flavor="sora2api") as e:
        yield e


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> None:
    if "emu" in request.fixturenames:
        e = request.getfixturevalue("emu")
        e.set(sora2api_failure="text", sora2api_status_interval=None)
        e.reset_counters()


@pytest.mark.slow
def test_progress_in_reasoning_content_then_html_fence(emu: Emulator) -> None:
    sse = parse_sse(stream(emu, "a lighthouse at dusk"))
    assert sse.done and sse.after_done == [] and sse.comments == []
    chunks = sse.chunks
    for c in chunks:
        # _format_stream_chunk: model "sora", both text keys, tool_calls null, usage each time.
        assert (c["object"], c["model"]) == ("chat.completion.chunk", "sora")
        assert re.fullmatch(r"chatcmpl-\d{13}", c["id"])
        d = delta(c)
        assert "content" in d and "reasoning_content" in d and d["tool_calls"] is None
        assert c["usage"]["prompt_tokens"] == 0
        assert c["choices"][0]["native_finish_reason"] == c["choices"][0]["finish_reason"]
    assert delta(chunks[0])["role"] == "assistant"
    assert delta(chunks[0])["reasoning_content"].startswith("**Generation Process Begins**")
    progress = [delta(c)["reasoning_content"] for c in chunks[1:-3]]
    assert progress, "no progress line"
    pcts = []
    for line in progress:
        m = re.fullmatch(r"\*\*Video Generation Progress\*\*: (\d+)% \(processing\)\n", line)
        assert m, line
        pcts.append(int(m.group(1)))
    assert pcts == sorted(pcts) and len(set(pcts)) == len(pcts)
    assert all(delta(c)["content"] is None for c in chunks[:-1])
    assert delta(chunks[-3])["reasoning_content"].startswith("**Video Generation Completed**")
    final = chunks[-1]
    assert final["choices"][0]["finish_reason"] == "STOP"
    assert final["usage"] == {"prompt_tokens": 0, "completion_tokens": 1, "total_tokens": 1}
    assert delta(final)["reasoning_content"] is None
    m = re.fullmatch(r"```html\n<video src='(.+?)' controls></video>\n```", delta(final)["content"])
    assert m
    assert probe_mp4(httpx.get(m.group(1)).content).codec == "h264"
    assert emu.counters["chat"] == 1


def test_failure_as_text_or_as_error_event(emu: Emulator) -> None:
    raw = stream(emu, "a storm [fail]")
    # json.dumps defaults: the Chinese text travels \u-escaped.
    assert b"\\u274c \\u751f\\u6210\\u5931\\u8d25" in raw
    sse = parse_sse(raw)
    assert sse.done
    last = sse.chunks[-1]
    assert last["choices"][0]["finish_reason"] == "STOP"
    assert delta(last)["content"].startswith("❌ 生成失败: content policy violation")
    assert delta(sse.chunks[-2])["reasoning_content"].startswith("**Content Policy Violation**")

    emu.set(sora2api_failure="error")
    sse = parse_sse(stream(emu, "another storm [fail]"))
    assert sse.done
    # routes.py generate(): a bare error object as a data line of the 200 stream.
    assert sse.chunks[-1] == {
        "error": {
            "message": "content policy violation: the prompt contains [fail]",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }
    assert all("choices" in c for c in sse.chunks[:-1])


def test_without_stream_nothing_is_generated(emu: Emulator) -> None:
    jobs = len(emu.jobs)
    r = httpx.post(
        f"{emu.base_url}/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "x"}]},
        timeout=10,
    )
    assert r.status_code == 200
    answer = r.json()
    assert answer["model"] == "sora" and answer["choices"][0]["finish_reason"] == "stop"
    assert "Please enable streaming" in answer["choices"][0]["message"]["content"]
    assert "usage" not in answer
    assert len(emu.jobs) == jobs


def test_only_data_uri_images_are_read(emu: Emulator) -> None:
    content = [
        {"type": "text", "text": "animate this"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    stream(emu, content)  # type: ignore[arg-type]
    job = next(emu.jobs[j] for j in emu.jobs if emu.jobs[j].prompt == "animate this")
    assert job.params["images"] == ["data:image/png;base64,AAAA"]


def test_status_interval_and_done_knob() -> None:
    with serve(job_seconds=0.5, seed=2, chat_flavor="sora2api") as e:
        e.set(sora2api_status_interval=10.0, chat_send_done=False)
        sse = parse_sse(stream(e, "slow status"))
        # Newer versions print a status line every 30 s (here 10): none in a 0.5 s render.
        texts = [json.dumps(delta(c)) for c in sse.chunks]
        assert not any("Video Generation Progress" in t for t in texts)
        assert not sse.done  # the existing knob drops [DONE]
        assert sse.chunks[-1]["choices"][0]["finish_reason"] == "STOP"
