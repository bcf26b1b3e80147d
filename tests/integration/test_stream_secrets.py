"""A relay that echoes the key inside a chat *stream*: split across chunks, escaped, or in an
error chunk. The key reaches no event, error, traceback, journal row or cell output."""

from __future__ import annotations

import json
import traceback

import pytest
from IPython.core.interactiveshell import InteractiveShell

import sora_nb
from sora_nb.journal import Journal
from tests.conftest import KEY, collect, maybe
from tests.hostile import Answer, hostile_relay, once

SSE = {"content-type": "text/event-stream"}


def sse(*payloads: object) -> bytes:
    lines = [f"data: {p if isinstance(p, str) else json.dumps(p)}\n\n" for p in payloads]
    return "".join(lines).encode()


def delta(text: str, finish: str | None = None) -> dict:
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}],
    }


def split_echo() -> bytes:
    said = f"Your key is {KEY}, please keep it safe."
    pieces = [said[i : i + 3] for i in range(0, len(said), 3)]
    return sse(*(delta(p) for p in pieces), delta("", "stop"), "[DONE]")


def escaped_error() -> bytes:
    escaped = "".join(f"\\u{ord(c):04x}" for c in KEY)
    message = '{"error": {"message": "Incorrect API key provided: ' + escaped + '"}}'
    return sse(delta("> ID: `task_01k7e5w9abcdef`\n"), message)


def failing_video() -> bytes:
    return sse(
        delta("> ID: `task_01k7e5w9abcdef`\n>🏃 进度 12..\n"),
        delta(f"> ❌ 生成失败: key {KEY[:9]}"),
        delta(f"{KEY[9:]} has no quota\n", "stop"),
        "[DONE]",
    )


def texts_of(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + repr(vars(exc))


def test_a_key_streamed_back_piece_by_piece_never_shows(run_client):
    with hostile_relay() as relay:
        relay.answer("POST", "/v1/chat/completions", Answer(once(split_echo()), headers=SSE))

        async def scenario(client):
            return await collect(client.stream_chat("what is my key?", model="gpt-4"))

        events = run_client(relay, scenario)
    assert events[-1].full_text == "Your key is ***, please keep it safe."
    for event in events:
        assert KEY not in event.text and KEY not in event.full_text


def test_an_escaped_key_in_an_error_chunk_never_shows(run_client):
    with hostile_relay() as relay:
        relay.answer("POST", "/v1/chat/completions", Answer(once(escaped_error()), headers=SSE))

        async def scenario(client):
            with pytest.raises(sora_nb.SoraError) as info:
                await collect(client.stream_chat("hi", model="gpt-4"))
            return info.value

        error = run_client(relay, scenario)
    # The error object inside the 200 stream is the gateway's answer: here, a refused key.
    assert isinstance(error, sora_nb.AuthenticationError)
    assert "Incorrect API key provided: ***" in str(error)
    assert KEY not in texts_of(error)


def test_a_failed_video_through_chat_keeps_no_key_in_error_or_journal(run_client, tmp_path):
    journal = Journal(tmp_path / "jobs.sqlite3")
    with hostile_relay() as relay:
        relay.answer("POST", "/v1/chat/completions", Answer(once(failing_video()), headers=SSE))

        async def scenario(client):
            with pytest.raises(sora_nb.GenerationFailed) as info:
                await maybe(client.generate_video("a cat", dialect="chat"))
            return info.value

        error = run_client(relay, scenario, journal=journal)
    assert "生成失败" in error.reason and "***" in error.reason
    assert KEY not in texts_of(error) and KEY not in error.job.raw.get("text", "")
    row = journal.get("task_01k7e5w9abcdef")
    assert row is not None and row.status == "failed" and "***" in row.error
    assert KEY.encode() not in journal.path.read_bytes()


@pytest.mark.parametrize(
    ("cell", "body", "fails"),
    [
        ("%%sora_chat -m gpt-4\nwhat is my key?", split_echo, False),
        ("%%sora_chat -m sora-2\na cat", failing_video, True),
        ("%%sora_video --dialect chat\na cat", failing_video, True),
        ("%%sora_chat -m gpt-4\nhi", escaped_error, True),
    ],
)
def test_cells_show_no_streamed_key(cell, body, fails, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SORA_NB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SORA_API_KEY", KEY)
    monkeypatch.chdir(tmp_path)
    ip = InteractiveShell.instance()
    with hostile_relay() as relay:
        relay.answer("POST", "/v1/chat/completions", Answer(once(body()), headers=SSE))
        monkeypatch.setenv("SORA_BASE_URL", relay.base_url)
        ip.run_line_magic("load_ext", "sora_nb")
        try:
            result = ip.run_cell(cell)
        finally:
            ip.run_line_magic("unload_ext", "sora_nb")
    out = capsys.readouterr()
    assert result.success is not fails
    shown = out.out + out.err + repr(result.result) + repr(result.error_in_exec)
    assert "***" in shown
    assert KEY not in shown
    journal = tmp_path / "data" / "jobs.sqlite3"
    assert not journal.exists() or KEY.encode() not in journal.read_bytes()
