"""Chat completions on the emulator: video models stream the relay template, others echo."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import httpx
import pytest

from sora_nb.emulator import Emulator, serve
from tests.emulator_fixtures import parse_sse, probe_mp4, unified_body

pytestmark = pytest.mark.timeout(60)


def chat(base_url: str, content: object, model: str = "sora-2", **extra: object) -> bytes:
    body = {"model": model, "messages": [{"role": "user", "content": content}], **extra}
    with httpx.stream("POST", f"{base_url}/chat/completions", json=body, timeout=30) as r:
        assert r.status_code == 200, r.read()
        if extra.get("stream"):
            assert r.headers["content-type"].startswith("text/event-stream")
        return r.read()


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with serve(job_seconds=0.2, seed=21) as e:
        yield e


def test_video_chat_stream_follows_the_relay_template() -> None:
    with serve(job_seconds=0.6, concurrency=1, seed=5, chat_keepalive_seconds=0.1) as e:
        # Occupy the only slot, so the chat job is queued first, then renders.
        httpx.post(f"{e.base_url}/video/create", json=unified_body())
        prompt = "an astronaut golden retriever, landscape"
        sse = parse_sse(chat(e.base_url, prompt, stream=True))

        assert sse.done and sse.after_done == []
        assert "keep-alive" in sse.comments
        ids = {c["id"] for c in sse.chunks}
        assert len(ids) == 1 and ids.pop().startswith("chatcmpl-")
        for c in sse.chunks:
            assert c["object"] == "chat.completion.chunk"
            assert c["model"] == "sora-2"
            assert isinstance(c["created"], int)
        assert sse.chunks[0]["choices"][0]["delta"]["role"] == "assistant"
        last = sse.chunks[-1]["choices"][0]
        assert (last["delta"], last["finish_reason"]) == ({}, "stop")
        assert all(c["choices"][0]["finish_reason"] is None for c in sse.chunks[:-1])

        text = sse.text
        block = re.search(r"```json\n(.*?)\n```", text, re.S).group(1)
        assert json.loads(block) == {"prompt": prompt, "orientation": "landscape"}
        task_id = re.search(r"> ID: `(task_[0-9a-z]{26})`", text).group(1)
        assert e.jobs[task_id].status == "completed"
        assert e.jobs[task_id].prompt == prompt
        assert text.index("> 排队中...") < text.index("> 生成中...") < text.index("进度")
        numbers = [int(n) for n in re.findall(r"(\d+)\.\.", text.split("进度", 1)[1])]
        assert len(numbers) >= 3, numbers
        assert numbers == sorted(set(numbers)) and all(0 < n < 100 for n in numbers)
        # One chunk per new progress number.
        progress_chunks = [
            c["choices"][0]["delta"].get("content", "")
            for c in sse.chunks
            if re.search(r"\d+\.\.$", c["choices"][0]["delta"].get("content") or "")
        ]
        assert len(progress_chunks) == len(numbers)
        assert "> 生成完成 ✅" in text
        thumb = re.search(r"!\[[^\]]*\]\((\S+)\)", text).group(1)
        video = re.search(r"\[在线播放▶️\]\((\S+)\)", text).group(1)
        assert thumb.startswith(e.cdn_url) and thumb.endswith(".webp")
        assert video.startswith(e.cdn_url) and video.endswith(".mp4")
        probe = probe_mp4(httpx.get(video).content)
        assert probe.width > probe.height  # landscape
        assert abs(probe.duration - 10) <= 1 / probe.fps + 1e-6
        assert e.counters["poll"] == 0  # a chat stream is not polling


def test_video_chat_crlf_framing_and_no_done() -> None:
    with serve(job_seconds=0.1, seed=5, chat_line_ending="\r\n", chat_send_done=False) as e:
        raw = chat(e.base_url, "a cat", stream=True)
        assert b"\r\n\r\n" in raw
        assert b"\n\n" not in raw  # every separator is CRLF CRLF
        events = raw.split(b"\r\n\r\n")
        assert events[-1] == b""
        assert all(ev.startswith((b"data: ", b":")) for ev in events[:-1])
        sse = parse_sse(raw)
        assert not sse.done
        assert sse.chunks[-1]["choices"][0]["finish_reason"] == "stop"
        assert "> 生成完成 ✅" in sse.text


def test_english_template_words_it_differently_and_puts_usage_on_the_finish() -> None:
    with serve(job_seconds=0.3, seed=5, chat_template="en") as e:
        sse = parse_sse(chat(e.base_url, "a kite", stream=True))
        text = sse.text
        assert "```json" not in text and "进度" not in text
        task_id = re.search(r"Task: (task_[0-9a-z]{26})", text).group(1)
        assert e.jobs[task_id].status == "completed"
        numbers = [int(n) for n in re.findall(r"(\d+)% ", text)]
        assert len(numbers) >= 3 and numbers == sorted(set(numbers))
        video = re.search(r"\[Watch the video\]\((\S+\.mp4)\)", text).group(1)
        assert video.startswith(e.cdn_url)
        finish = sse.chunks[-1]
        assert finish["choices"][0]["finish_reason"] == "stop"
        assert finish["usage"]["total_tokens"] > 0


def test_video_chat_without_stream_blocks_until_done(emu: Emulator) -> None:
    t0 = time.monotonic()
    body = json.loads(chat(emu.base_url, "a quiet lake"))
    assert time.monotonic() - t0 >= 0.15  # it waited for the render
    assert body["object"] == "chat.completion"
    message = body["choices"][0]["message"]
    assert message["role"] == "assistant"
    assert body["choices"][0]["finish_reason"] == "stop"
    assert re.search(
        r"\[在线播放▶️\]\(http://127\.0\.0\.1:\d+/cdn/\d{8}/\w+\.mp4\)", message["content"]
    )
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}


def test_video_chat_failure_is_told_in_text(emu: Emulator) -> None:
    sse = parse_sse(chat(emu.base_url, "forbidden [fail]", stream=True))
    assert "生成失败" in sse.text and "[fail]" in sse.text
    assert "在线播放" not in sse.text
    assert sse.chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert sse.done


def test_configured_video_models_and_portrait_default() -> None:
    with serve(job_seconds=0.05, seed=1, chat_video_models=("veo-3-chat",)) as e:
        sse = parse_sse(chat(e.base_url, "a dog", model="veo-3-chat", stream=True))
        assert '"orientation": "portrait"' in sse.text
        assert "> ID: `task_" in sse.text
        plain = parse_sse(chat(e.base_url, "a dog", model="veo-3", stream=True))
        assert plain.text.startswith("Echo from veo-3: a dog")


def test_ordinary_chat_split_into_many_chunks() -> None:
    with serve(seed=8, chat_chunks=5000) as e:
        t0 = time.monotonic()
        sse = parse_sse(chat(e.base_url, "count with me", model="gpt-4", stream=True))
        elapsed = time.monotonic() - t0
        content = [c for c in sse.chunks if c["choices"][0]["delta"].get("content")]
        assert len(content) == 5000
        assert len(sse.chunks) == 5001  # plus the finish chunk
        assert sse.text.startswith("Echo from gpt-4: count with me")
        assert sse.done
        again = parse_sse(chat(e.base_url, "count with me", model="gpt-4", stream=True))
        assert again.text == sse.text  # deterministic
        whole = json.loads(chat(e.base_url, "count with me", model="gpt-4"))
        assert whole["choices"][0]["message"]["content"] == sse.text
        assert whole["usage"]["total_tokens"] > 0
        assert elapsed < 20


def test_ordinary_chat_words_usage_and_delay(emu: Emulator) -> None:
    sse = parse_sse(
        chat(
            emu.base_url,
            "hello there",
            model="gpt-3.5-turbo",
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert sse.text.startswith("Echo from gpt-3.5-turbo: hello there | ")
    assert len(sse.chunks) >= 10  # word-sized chunks
    assert sse.chunks[-1]["choices"] == []
    assert sse.chunks[-1]["usage"]["total_tokens"] > 0
    assert sse.chunks[-2]["choices"][0]["finish_reason"] == "stop"
    other = parse_sse(chat(emu.base_url, "something else", model="gpt-3.5-turbo", stream=True))
    assert other.text != sse.text

    with serve(seed=1, chat_chunks=10, chat_chunk_delay=0.02) as e:
        t0 = time.monotonic()
        slow = parse_sse(chat(e.base_url, "slowly", model="gpt-4", stream=True))
        assert len(slow.chunks) == 11
        assert time.monotonic() - t0 >= 0.18


def test_ordinary_chat_multimodal_and_tools(emu: Emulator) -> None:
    parts = [
        {"type": "text", "text": "what is here?"},
        {"type": "image_url", "image_url": {"url": "https://e.x/i.jpg", "detail": "high"}},
    ]
    body = json.loads(chat(emu.base_url, parts, model="gpt-4-vision-preview", temperature=0.7))
    assert "what is here? (1 image)" in body["choices"][0]["message"]["content"]

    tools = [{"type": "function", "function": {"name": "generate_animate", "parameters": {}}}]
    choice = {"type": "function", "function": {"name": "generate_animate"}}
    body = json.loads(chat(emu.base_url, "go", model="gpt-4", tools=tools, tool_choice=choice))
    call = body["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "generate_animate"
    assert json.loads(call["function"]["arguments"]) == {"prompt": "go"}
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    sse = parse_sse(
        chat(emu.base_url, "go", model="gpt-4", tools=tools, tool_choice=choice, stream=True)
    )
    assert sse.chunks[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"] == (
        "generate_animate"
    )
    assert sse.chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    "body",
    [
        {"messages": [{"role": "user", "content": "x"}]},
        {"model": "gpt-4"},
        {"model": "gpt-4", "messages": []},
        {"model": "sora-2", "messages": [{"role": "system", "content": "no user"}]},
    ],
)
def test_chat_validation(emu: Emulator, body: dict) -> None:
    r = httpx.post(f"{emu.base_url}/chat/completions", json=body)
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"
