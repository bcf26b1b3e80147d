"""Dialect chat: the request, and what streamed chat text means (progress, task id, link)."""

from __future__ import annotations

import json
import random

import pytest

from sora_nb._exceptions import ProtocolError
from sora_nb.dialects import chat
from sora_nb.dialects.chat import (
    ChatStreamState,
    ChatTextScanner,
    completion_state,
    parse_chat_completion,
)

# The stream template one relay family sends for a video model on /chat/completions (the chat
# dialect of the 6ai.chat and winfull relay docs), verbatim (ellipses and all).
TEMPLATE = """```json
{"prompt": "…", "orientation": "portrait"}
```

> ID: `task_01k7e5w9…`
> 排队中...
> 生成中...

>🏃 进度 36..44..61..81..

> 生成完成 ✅

![https://…/thumb.webp](https://…/thumb.webp)
[在线播放▶️](https://filesystem.site/cdn/20251013/….mp4)
"""
TEMPLATE_ID = "task_01k7e5w9"
TEMPLATE_URL = "https://filesystem.site/cdn/20251013/….mp4"

# The same template as a relay fills it in.
SEED_002_PROMPT = (
    "an astronaut golden retriever named Sora levitates around an intergalactic pup-themed space "
    "station with a tiny jet back that propels him. gorgeous specular lighting and comets fly "
    "through the sky, retro-future astro-themed music plays in the background. light glimmers "
    "off the dog's eyes. the dog initially propels towards the space station with the doors "
    "opening to let him in. the shot then changes. now inside the space station, many tennis "
    "balls are flying around in zero gravity. the dog's astronaut helmet opens up so he can "
    "grab one. 35mm film, the intricate details and texturing of the dog's hair are clearly "
    "visible and the light of the comets shimmers off the fur."
)
FILLED_ID = "task_01k7e5w9n2fx8c3q1v6z0b4m7k"
FILLED_THUMB = "https://filesystem.site/cdn/20251013/0a1b2c3d4e.webp"
FILLED_URL = "https://filesystem.site/cdn/20251013/0a1b2c3d4e.mp4"
FILLED = (
    "```json\n" + json.dumps({"prompt": SEED_002_PROMPT, "orientation": "portrait"}) + "\n```\n\n"
    f"> ID: `{FILLED_ID}`\n"
    "> 排队中...\n"
    "> 生成中...\n\n"
    ">🏃 进度 36..44..61..81..\n\n"
    "> 生成完成 ✅\n\n"
    f"![{FILLED_THUMB}]({FILLED_THUMB})\n"
    f"[在线播放▶️]({FILLED_URL})\n"
)

CASES = [(TEMPLATE, TEMPLATE_ID, TEMPLATE_URL), (FILLED, FILLED_ID, FILLED_URL)]
PROGRESS_VALUES = {36.0, 44.0, 61.0, 81.0}


def chunk(text=None, *, finish=None, **extra):
    delta = {} if text is None else {"content": text}
    body = {
        "id": "chatcmpl-abc",
        "object": "chat.completion.chunk",
        "created": 1760339997,
        "model": "sora-2",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    body.update(extra)
    return json.dumps(body, ensure_ascii=False)


def one_piece(text):
    return [text]


def per_char(text):
    return list(text)


def random_splits(seed):
    def split(text):
        rng = random.Random(seed)
        cuts = sorted(rng.sample(range(1, len(text)), k=min(len(text) - 1, len(text) // 7)))
        return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]

    split.__name__ = f"random_splits_{seed}"
    return split


SPLITTERS = [one_piece, per_char, *(random_splits(seed) for seed in range(6))]


def stream(pieces, *, finish=True, done=True):
    """Feed pieces as chat.completion.chunk payloads; returns (state, events)."""
    state = ChatStreamState()
    events = []
    role = json.dumps({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})
    assert state.feed(role) is None
    for piece in pieces:
        event = state.feed(chunk(piece))
        assert event is not None
        events.append(event)
    if finish:
        events.append(state.feed(chunk(finish="stop")))
    if done:
        assert state.feed("[DONE]") is None
    return state, events


# --- build ----------------------------------------------------------------------------------


def test_build_chat_as_the_6ai_docs_show():
    messages = [{"role": "user", "content": "an astronaut golden retriever named Sora"}]
    http = chat.build_chat(
        messages,
        model="sora-2",
        max_tokens=1000,
        tools=["function:generate_animate"],
        tool_choice={"type": "function", "function": {"name": "generate_animate"}},
        temperature=None,
    )
    assert (http.method, http.path, http.kind) == ("POST", "chat/completions", "chat")
    assert http.creates
    assert http.json == {
        "model": "sora-2",
        "messages": messages,
        "stream": True,
        "max_tokens": 1000,
        "tools": ["function:generate_animate"],
        "tool_choice": {"type": "function", "function": {"name": "generate_animate"}},
    }
    assert "temperature" not in http.json


def test_build_chat_non_streamed_and_multimodal():
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "https://x/i.png", "detail": "high"}},
            ],
        }
    ]
    http = chat.build_chat(iter(messages), model="gpt-4", stream=False, temperature=0.2, top_p=0.9)
    assert http.json["stream"] is False
    assert http.json["messages"] == messages
    assert http.json["temperature"] == 0.2 and http.json["top_p"] == 0.9


# --- the template, fed three ways ----------------------------------------------------------


@pytest.mark.parametrize(("text", "task_id", "url"), CASES, ids=["verbatim", "filled"])
@pytest.mark.parametrize("split", SPLITTERS, ids=lambda f: f.__name__)
def test_template_stream_any_split(text, task_id, url, split):
    pieces = split(text)
    assert "".join(pieces) == text
    state, events = stream(pieces)
    assert state.text == text
    assert events[-1].full_text == text
    assert state.done and state.complete
    assert state.finish_reason == "stop"

    progress = [e.progress for e in events if e.progress is not None]
    assert set(progress) <= PROGRESS_VALUES, sorted(set(progress) - PROGRESS_VALUES)
    assert progress == sorted(progress), progress
    assert state.scanner.progress == 81.0

    assert state.scanner.task_id == task_id
    assert {e.task_id for e in events if e.task_id} == {task_id}
    assert state.scanner.video_urls == [url]
    assert events[-1].video_urls == (url,)
    assert events[-1].video_url == url
    # The thumbnail is never taken for the video.
    assert all("webp" not in u for e in events for u in e.video_urls)

    job = state.job(dialect="chat", model="sora-2", prompt="p")
    assert job.status == "completed"
    assert job.progress == 100.0
    assert job.id == task_id
    assert job.video_url == url


@pytest.mark.parametrize("split", SPLITTERS, ids=lambda f: f.__name__)
def test_template_progress_seen_while_streaming(split):
    # After the progress line and before the link, the job reads 81% in progress.
    head = FILLED.split("> 生成完成")[0]
    state, _ = stream(split(head), finish=False, done=False)
    assert state.scanner.progress == 81.0
    job = state.job(dialect="chat")
    assert (job.status, job.progress, job.id) == ("in_progress", 81.0, FILLED_ID)


def test_progress_numbers_split_across_chunks_are_read_whole():
    scanner = ChatTextScanner()
    seen = []
    for piece in [">🏃 进度 ", "3", "6", "..", "4", "4", "..", "6", "1", ".", ".", "8", "1", ".."]:
        scanner.feed(piece)
        seen.append(scanner.progress)
    assert 4.0 not in seen and 3.0 not in seen and 6.0 not in seen and 8.0 not in seen
    assert seen[-1] == 81.0
    assert [p for p in seen if p is not None] == sorted(p for p in seen if p is not None)
    assert {p for p in seen if p is not None} == PROGRESS_VALUES


def test_template_text_scanner_directly():
    scanner = ChatTextScanner()
    scanner.feed(FILLED)
    scanner.close()
    assert scanner.task_id == FILLED_ID
    assert scanner.progress == 81.0
    assert scanner.video_urls == [FILLED_URL]
    assert scanner.finished
    assert scanner.failed_line is None


# --- other wordings -------------------------------------------------------------------------


@pytest.mark.parametrize("split", [one_piece, per_char], ids=lambda f: f.__name__)
def test_english_wording(split):
    text = (
        "Task ID: task_abc123\n"
        "Status: queued\n"
        "Progress: 12%\n"
        "Progress: 45%\n"
        "Generation completed!\n"
        "[Watch video](https://x/y.mp4)\n"
    )
    state, events = stream(split(text))
    assert state.scanner.task_id == "task_abc123"
    assert state.scanner.progress == 45.0
    assert state.scanner.video_urls == ["https://x/y.mp4"]
    progress = [e.progress for e in events if e.progress is not None]
    assert set(progress) <= {12.0, 45.0}


def test_progress_percent_forms():
    for text, expected in [
        ("Progress: 45%", 45.0),
        ("progress 7.5 %", 7.5),
        ("🏃 进度 99%", 99.0),
        ("rendering... 100%", 100.0),
        ("Generating (60%)", 60.0),
    ]:
        scanner = ChatTextScanner()
        scanner.feed(text + "\n")
        assert scanner.progress == expected, text


def test_bare_video_url_and_other_links():
    scanner = ChatTextScanner()
    scanner.feed("Your video: https://cdn.example/out/clip.mp4.\n")
    scanner.feed("See also https://example.com/docs and ![poster](https://cdn.example/p.png)\n")
    scanner.feed("[Download](https://cdn.example/file?id=9)\n")
    scanner.close()
    assert scanner.video_urls == [
        "https://cdn.example/out/clip.mp4",
        "https://cdn.example/file?id=9",
    ]


def test_last_video_link_wins_and_duplicates_are_kept_once():
    state, events = stream(
        [
            "[preview](https://cdn.example/a.mp4)\n",
            "[在线播放▶️](https://cdn.example/b.mp4)\n",
            "https://cdn.example/b.mp4\n",
        ]
    )
    assert events[-1].video_urls == ("https://cdn.example/a.mp4", "https://cdn.example/b.mp4")
    assert events[-1].video_url == "https://cdn.example/b.mp4"
    assert state.job(dialect="chat").video_url == "https://cdn.example/b.mp4"


def test_link_on_unterminated_last_line_found_on_close():
    state, _ = stream(["> ID: `task_abcdef01`\n", "[Watch video](https://x/y.mp4)"])
    assert state.scanner.video_urls == ["https://x/y.mp4"]


def test_35mm_in_prompt_block_is_not_progress():
    for prompt in (SEED_002_PROMPT, "slow rendering of a city at dusk, shot on 35mm film"):
        block = "```json\n" + json.dumps({"prompt": prompt, "orientation": "portrait"}) + "\n```\n"
        for pieces in (one_piece(block), per_char(block)):
            state, events = stream(pieces, finish=False, done=False)
            assert state.scanner.progress is None
            assert all(e.progress is None for e in events)
            assert state.job(dialect="chat").status == "queued"


def test_percent_in_prompt_block_is_not_progress():
    prompt = "generating a slow-motion shot at 50% speed"
    block = "```json\n" + json.dumps({"prompt": prompt}) + "\n```\n"
    state, _ = stream([block, "> ID: `task_abcdef01`\n", ">🏃 进度 36%\n"], finish=False)
    assert state.scanner.progress == 36.0


# --- stream control -------------------------------------------------------------------------


def test_done_sets_done_and_closes_last_line():
    state = ChatStreamState()
    state.feed(chunk("Progress: 30%\n[Watch video](https://x/y.mp4)"))
    assert not state.done and not state.complete
    assert state.feed("[DONE]") is None
    assert state.done and state.complete
    assert state.scanner.video_urls == ["https://x/y.mp4"]


def test_finish_reason_without_done_counts_as_complete():
    state, events = stream(
        ["> ID: `task_abcdef01`\n", "[Watch video](https://x/y.mp4)"], done=False
    )
    assert not state.done
    assert state.complete
    assert events[-1].finish_reason == "stop"
    assert state.job(dialect="chat").status == "completed"


@pytest.mark.parametrize(
    "data", ["", "   ", "keep-alive", "PING", ": comment", "[PING]", "42", "[]"]
)
def test_keep_alive_and_non_object_data_ignored(data):
    state = ChatStreamState()
    assert state.feed(data) is None
    assert state.text == "" and not state.complete


def test_role_only_delta_and_empty_choices_give_no_event():
    state = ChatStreamState()
    assert (
        state.feed(json.dumps({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})) is None
    )
    assert state.feed(json.dumps({"choices": []})) is None
    assert state.feed(chunk("")) is None
    assert state.feed(json.dumps({"choices": ["junk", None]})) is None


def test_an_error_object_in_the_stream_is_the_gateways_answer():
    # TheSmallHanCat/sora2api src/api/routes.py generate(): after streaming began, an exception
    # becomes 'data: {"error": {"message": str(e), "type": "server_error", …}}' then [DONE], in
    # an HTTP 200 stream. It is the answer (a failed generation), not a broken connection.
    state = ChatStreamState()
    state.feed(chunk("> ID: `task_abcdef01`\n"))
    error = {"error": {"message": "upstream generation failed", "type": "server_error"}}
    assert state.feed(json.dumps(error)) is not None
    state.feed("[DONE]")
    assert state.complete and state.error == error["error"]
    job = state.job(dialect="chat")
    assert (job.status, job.id, job.error) == (
        "failed",
        "task_abcdef01",
        "upstream generation failed",
    )
    plain = ChatStreamState()
    plain.feed(json.dumps({"error": "quota gone"}))
    assert plain.job(dialect="chat").error == "quota gone"


def test_null_error_field_is_not_an_error():
    state = ChatStreamState()
    state.feed(chunk("hi"))
    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    event = state.feed(json.dumps({"choices": [], "usage": usage, "error": None}))
    assert event is not None and event.usage == usage


def test_error_key_alongside_choices_is_not_fatal():
    state = ChatStreamState()
    event = state.feed(chunk("hello", error=None))
    assert event is not None and event.text == "hello"


def test_tool_call_deltas_merged_by_index():
    state = ChatStreamState()
    deltas = [
        [
            {
                "index": 0,
                "id": "call_a",
                "type": "function",
                "function": {"name": "generate_", "arguments": ""},
            }
        ],
        [{"index": 0, "function": {"name": "animate", "arguments": '{"prompt": '}}],
        [{"index": 1, "id": "call_b", "function": {"name": "other", "arguments": "{}"}}],
        [{"index": 0, "function": {"arguments": '"a cat"}'}}],
    ]
    events = []
    for calls in deltas:
        payload = {"choices": [{"index": 0, "delta": {"tool_calls": calls}}]}
        events.append(state.feed(json.dumps(payload)))
    assert all(e is not None for e in events)
    calls = events[-1].tool_calls
    assert len(calls) == 2
    assert calls[0]["id"] == "call_a"
    assert calls[0]["function"] == {"name": "generate_animate", "arguments": '{"prompt": "a cat"}'}
    assert json.loads(calls[0]["function"]["arguments"]) == {"prompt": "a cat"}
    assert calls[1]["id"] == "call_b"
    assert calls[1]["function"] == {"name": "other", "arguments": "{}"}


def test_usage_captured_from_final_chunk():
    state = ChatStreamState()
    state.feed(chunk("hi"))
    usage = {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}
    event = state.feed(json.dumps({"choices": [], "usage": usage}))
    assert event is not None
    assert event.usage == usage
    assert state.usage == usage
    assert event.text == "" and event.full_text == "hi"


def test_event_text_and_full_text():
    state = ChatStreamState()
    a = state.feed(chunk("Hello"))
    b = state.feed(chunk(", world"))
    assert (a.text, a.full_text) == ("Hello", "Hello")
    assert (b.text, b.full_text) == (", world", "Hello, world")
    assert b.raw["object"] == "chat.completion.chunk"


def test_message_instead_of_delta():
    state = ChatStreamState()
    event = state.feed(json.dumps({"choices": [{"message": {"content": "whole"}}]}))
    assert event.text == "whole"


# --- non-streamed answers -------------------------------------------------------------------

SEED_003_COMPLETION = {
    "id": "chatcmpl-123",
    "object": "chat.completion",
    "created": 1677652288,
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "\n\nHello there, how may I assist you today?",
            },
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21},
}


def test_parse_chat_completion_as_the_stai_docs_show():
    event = parse_chat_completion(SEED_003_COMPLETION)
    assert event.text == "\n\nHello there, how may I assist you today?"
    assert event.full_text == event.text
    assert event.finish_reason == "stop"
    assert event.usage == {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}
    assert event.video_urls == () and event.progress is None and event.task_id is None


def test_parse_chat_completion_video_text():
    body = {"choices": [{"message": {"content": FILLED}, "finish_reason": "stop"}]}
    event = parse_chat_completion(body)
    assert event.task_id == FILLED_ID
    assert event.progress == 81.0
    assert event.video_url == FILLED_URL


def test_parse_chat_completion_tool_calls():
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "generate_animate", "arguments": "{}"},
    }
    body = {"choices": [{"message": {"content": None, "tool_calls": [call]}}]}
    event = parse_chat_completion(body)
    assert event.text == ""
    assert event.tool_calls == (call,)


def test_completion_state_is_done():
    state = completion_state(SEED_003_COMPLETION)
    assert state.done and state.complete
    job = state.job(dialect="chat")
    assert job.status == "failed"
    assert "Hello there" in job.error


@pytest.mark.parametrize("body", [None, [], "text"])
def test_parse_chat_completion_non_object(body):
    with pytest.raises(ProtocolError):
        parse_chat_completion(body)


def test_parse_chat_completion_without_choices():
    event = parse_chat_completion({"id": "x"})
    assert event.text == "" and event.finish_reason is None


# --- what the text says about the job --------------------------------------------------------


def test_job_statuses_through_a_stream():
    state = ChatStreamState()
    assert state.job(dialect="chat").status == "queued"
    state.feed(chunk("> ID: `task_abcdef01`\n> 排队中...\n"))
    job = state.job(dialect="chat", model="sora-2", prompt="p")
    assert (job.status, job.id, job.progress) == ("queued", "task_abcdef01", None)
    assert (job.model, job.prompt, job.dialect) == ("sora-2", "p", "chat")
    state.feed(chunk(">🏃 进度 36%\n"))
    assert (state.job(dialect="chat").status, state.job(dialect="chat").progress) == (
        "in_progress",
        36.0,
    )
    state.feed(chunk("[在线播放▶️](https://cdn.example/v.mp4)\n"))
    job = state.job(dialect="chat")
    assert (job.status, job.progress, job.video_url) == (
        "completed",
        100.0,
        "https://cdn.example/v.mp4",
    )
    assert job.raw["text"] == state.text


def test_job_failed_with_failure_line():
    state = ChatStreamState()
    state.feed(chunk("> ID: `task_abcdef01`\n>🏃 进度 20%\n"))
    state.feed(chunk("> ❌ 生成失败：内容违规\n", finish="stop"))
    job = state.job(dialect="chat")
    assert job.status == "failed"
    assert job.error == "❌ 生成失败：内容违规"
    assert job.id == "task_abcdef01"


def test_job_failed_when_answer_ends_without_link():
    state = ChatStreamState()
    state.feed(chunk("> ID: `task_abcdef01`\n>🏃 进度 20%\nsorry, try later"))
    state.feed("[DONE]")
    job = state.job(dialect="chat")
    assert job.status == "failed"
    assert job.error == "the answer ended without a video link: sorry, try later"
    empty = ChatStreamState()
    empty.feed("[DONE]")
    assert empty.job(dialect="chat").error.endswith("(no text)")


def test_failure_word_on_a_link_line_is_not_a_failure():
    state = ChatStreamState()
    state.feed(chunk("error-free render: [Watch video](https://x/y.mp4)\n", finish="stop"))
    assert state.job(dialect="chat").status == "completed"


# --- a long stream --------------------------------------------------------------------------


def test_five_thousand_chunks():
    lines = ["```json", json.dumps({"prompt": SEED_002_PROMPT}), "```", f"> ID: `{FILLED_ID}`"]
    for p in range(0, 101):
        lines.append(f"> 生成中... Progress: {p}%")
        lines.append("> still working, please wait" + "." * (p % 7))
    lines += [
        "> 生成完成 ✅",
        f"![{FILLED_THUMB}]({FILLED_THUMB})",
        f"[在线播放▶️]({FILLED_URL})",
        "",
    ]
    text = "\n".join(lines)
    rng = random.Random(5000)
    cuts = sorted(rng.sample(range(1, len(text)), 4999))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    assert len(pieces) == 5000
    state, events = stream(pieces)
    assert len(events) == 5001
    assert state.text == text
    progress = [e.progress for e in events if e.progress is not None]
    assert progress == sorted(progress)
    assert set(progress) <= {float(p) for p in range(101)}
    assert progress[-1] == 100.0
    assert state.scanner.task_id == FILLED_ID
    assert state.scanner.video_urls == [FILLED_URL]
    job = state.job(dialect="chat")
    assert job.status == "completed" and job.video_url == FILLED_URL


def test_state_job_is_the_one_reading_of_chat_text():
    # ChatStreamState.job is the only function that turns chat text into a Job.
    def state_of(text: str) -> chat.ChatStreamState:
        state = chat.ChatStreamState()
        state.feed(json.dumps({"choices": [{"index": 0, "delta": {"content": text}}]}))
        return state

    queued = state_of("> ID: `task_abcdef01`\n").job(dialect="chat")
    assert (queued.status, queued.id, queued.progress, queued.dialect) == (
        "queued",
        "task_abcdef01",
        None,
        "chat",
    )
    running = state_of(">🏃 进度 40..\n").job(dialect="chat", model="m")
    assert (running.status, running.progress, running.id, running.model) == (
        "in_progress",
        40.0,
        "",
        "m",
    )
    done = state_of("进度 81..\n[在线播放▶️](https://x/y.mp4)\n").job(dialect="chat", prompt="p")
    assert (done.status, done.progress, done.video_url, done.prompt) == (
        "completed",
        100.0,
        "https://x/y.mp4",
        "p",
    )
    assert done.raw["text"] == "进度 81..\n[在线播放▶️](https://x/y.mp4)\n"


def test_sora_bridge_progress_in_reasoning_and_the_video_in_an_html_fence():
    # TheSmallHanCat/sora2api _format_stream_chunk: both keys in every delta, one null; progress
    # lines in reasoning_content; the answer '```html\n<video src=\'…\' controls></video>\n```'
    # with finish_reason "STOP" (upper case), then [DONE].
    def sora2api(content=None, reasoning=None, finish=None):
        delta = {"content": content, "reasoning_content": reasoning, "tool_calls": None}
        return json.dumps(
            {
                "id": "chatcmpl-1760000000000",
                "object": "chat.completion.chunk",
                "created": 1760000000,
                "model": "sora",
                "choices": [
                    {
                        "index": 0,
                        "delta": delta,
                        "finish_reason": finish,
                        "native_finish_reason": finish,
                    }
                ],
                "usage": {"prompt_tokens": 0},
            }
        )

    state = ChatStreamState()
    state.feed(
        sora2api(reasoning="**Generation Process Begins**\n\nInitializing generation request...\n")
    )
    state.feed(sora2api(reasoning="**Video Generation Progress**: 45% (processing)\n"))
    assert state.progress == 45.0 and state.text == ""  # reasoning is read, not shown
    assert state.job(dialect="chat").status == "in_progress"
    state.feed(sora2api(reasoning="**Video Generation Progress**: 93% (processing)\n"))
    final = "```html\n<video src='http://127.0.0.1:8000/tmp/abc123.mp4' controls></video>\n```"
    state.feed(sora2api(content=final, finish="STOP"))
    state.feed("[DONE]")
    job = state.job(dialect="chat")
    assert job.status == "completed" and job.video_url == "http://127.0.0.1:8000/tmp/abc123.mp4"
    assert state.text == final


def test_links_in_html_source_tags_and_fences_count_progress_in_fences_does_not():
    state = ChatStreamState()
    state.feed(chunk('```json\n{"prompt": "a fox at 50%"}\n```\n'))
    assert state.progress is None  # an echoed prompt is not progress
    state.feed(
        chunk('<video controls><source src="https://cdn.example/v/7" type="video/mp4"></video>\n')
    )
    assert state.video_urls == ["https://cdn.example/v/7"]


def test_video_through_chat_sends_images_as_content_parts():
    # The st-ai docs' multimodal messages: {"type": "image_url", "image_url": {"url", …}}. Local
    # files go as data URLs (TheSmallHanCat/sora2api src/api/routes.py reads only "data:image"
    # URLs).
    from sora_nb.dialects import ImageFile
    from sora_nb.dialects.chat import CHAT
    from sora_nb.models import VideoRequest

    png = ImageFile("a.png", b"\x89PNG\r\n\x1a\n", "image/png")
    http = CHAT.build_create(VideoRequest("animate this", "sora-2"), ["https://x/in.png", png])
    (message,) = http.json["messages"]
    assert message["content"][0] == {"type": "text", "text": "animate this"}
    assert message["content"][1] == {"type": "image_url", "image_url": {"url": "https://x/in.png"}}
    assert message["content"][2]["image_url"]["url"].startswith("data:image/png;base64,")
    plain = CHAT.build_create(VideoRequest("no image", "sora-2"))
    assert plain.json["messages"] == [{"role": "user", "content": "no image"}]
