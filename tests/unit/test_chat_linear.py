"""Chat text is read in linear work, however finely the stream is cut, and reads the same.

Work is counted, not timed: every character the chat dialect's patterns are asked to look at,
plus every character of ``full_text`` built for an event. Doubling the chunks may at most
(about) double the work.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from typing import Any

import pytest

from sora_nb.dialects import chat
from sora_nb.dialects.chat import ChatStreamState, ChatTextScanner
from sora_nb.models import ChatEvent
from tests.unit.test_dialect_chat import FILLED, SEED_002_PROMPT, TEMPLATE, chunk

RATIO = 2.5


class CountingPattern:
    """A compiled pattern that counts the characters it is asked to scan."""

    def __init__(self, pattern: re.Pattern[str], meter: Meter) -> None:
        self._pattern = pattern
        self._meter = meter

    def _count(self, string: str, pos: int = 0, endpos: int | None = None) -> None:
        end = len(string) if endpos is None else min(endpos, len(string))
        self._meter.chars += max(0, end - pos)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._pattern, name)
        if name not in ("search", "match", "fullmatch", "findall", "finditer", "sub", "split"):
            return method

        def counted(*args: Any, **kwargs: Any) -> Any:
            if name == "sub":
                self._count(args[1])
            else:
                self._count(*args[:3])
            return method(*args, **kwargs)

        return counted


class Meter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.chars = 0
        for name, value in vars(chat).items():
            if isinstance(value, re.Pattern):
                monkeypatch.setattr(chat, name, CountingPattern(value, self))
        meter = self

        def counting_event(*args: Any, **kwargs: Any) -> ChatEvent:
            full = kwargs.get("full_text", args[1] if len(args) > 1 else "")
            if isinstance(full, str):
                meter.chars += len(full)  # a full text built for this event
            return ChatEvent(*args, **kwargs)

        monkeypatch.setattr(chat, "ChatEvent", counting_event)


def work(monkeypatch: pytest.MonkeyPatch, run: Callable[[], object]) -> int:
    with monkeypatch.context() as patch:
        meter = Meter(patch)
        run()
        return meter.chars


def scan(pieces: list[str]) -> Callable[[], ChatTextScanner]:
    def run() -> ChatTextScanner:
        scanner = ChatTextScanner()
        for piece in pieces:
            scanner.feed(piece)
        scanner.close()
        return scanner

    return run


def stream(pieces: list[str]) -> Callable[[], ChatStreamState]:
    payloads = [chunk(p) for p in pieces]

    def run() -> ChatStreamState:
        state = ChatStreamState()
        for payload in payloads:
            state.feed(payload)
        state.feed("[DONE]")
        return state

    return run


def per_char(text: str) -> list[str]:
    return list(text)


# Shapes of stream that made the work quadratic, each as a function of a size n.
SHAPES: dict[str, Callable[[int], list[str]]] = {
    "progress_numbers_on_one_line": lambda n: ["> 进度 ", *["1 "] * n],
    "one_char_chunks_many_lines": lambda n: per_char(
        "".join(f"> Progress: {i % 100}%\n> still working...\n" for i in range(n // 40))
    ),
    "one_char_chunks_one_progress_line": lambda n: per_char("🏃 进度 " + "1.." * (n // 3)),
    "long_decimal_one_digit_at_a_time": lambda n: ["progress 0.", *["5"] * n, " %"],
    "dotted_digits_never_a_number": lambda n: ["progress ", *["1."] * n],
    "long_line_without_progress_words": lambda n: ["just text, ", *["word "] * n],
    "fenced_line": lambda n: ["```json\n", '{"prompt": "', *["35mm 50% "] * n],
}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_scanner_work_is_linear_in_chunks(monkeypatch, shape):
    n = 2000
    small = work(monkeypatch, scan(shape(n)))
    large = work(monkeypatch, scan(shape(2 * n)))
    assert large <= RATIO * max(small, 1), (small, large)


@pytest.mark.parametrize(
    "shape",
    [SHAPES["progress_numbers_on_one_line"], SHAPES["one_char_chunks_many_lines"]],
    ids=["one_line", "many_lines"],
)
def test_stream_state_work_is_linear_in_chunks(monkeypatch, shape):
    # Each event carries full_text; building it for every event made a stream quadratic.
    n = 2000
    small = work(monkeypatch, stream(shape(n)))
    large = work(monkeypatch, stream(shape(2 * n)))
    assert large <= RATIO * max(small, 1), (small, large)


def test_full_text_still_reads_the_text_so_far():
    state = ChatStreamState()
    events = [state.feed(chunk(p)) for p in ["Hello", ", ", "world", "!"]]
    assert [e.full_text for e in events] == ["Hello", "Hello, ", "Hello, world", "Hello, world!"]
    # In any order, more than once, and in the usual dataclass ways.
    assert events[1].full_text == "Hello, " and events[0].full_text == "Hello"
    assert isinstance(events[2].full_text, str)
    assert "full_text='Hello, world'" in repr(events[2])
    assert events[3] == ChatEvent(
        text="!", full_text="Hello, world!", raw={"x": 1}, finish_reason=None
    )
    import copy
    import dataclasses
    import pickle

    assert pickle.loads(pickle.dumps(events[2])).full_text == "Hello, world"
    assert copy.deepcopy(events[1]).full_text == "Hello, "
    assert dataclasses.replace(events[0], text="x").full_text == "Hello"
    assert dataclasses.asdict(events[3])["full_text"] == "Hello, world!"
    with pytest.raises(dataclasses.FrozenInstanceError):
        events[0].full_text = "changed"  # type: ignore[misc]
    assert state.text == "Hello, world!"


# --- the same answers however the stream is cut ------------------------------------------------

FIELDS = ("progress", "task_id", "video_urls", "finished", "failed_line")


def outcome(scanner: ChatTextScanner) -> tuple[object, ...]:
    return tuple(
        list(getattr(scanner, f)) if f == "video_urls" else getattr(scanner, f) for f in FIELDS
    )


def progress_line(values: list[int], sep: str) -> str:
    return "> 🏃 进度 " + sep.join(str(v) for v in values) + sep


CORPUS = [
    TEMPLATE,
    FILLED,
    "```json\n" + json.dumps({"prompt": SEED_002_PROMPT}) + "\n```\n> ID: `task_abc12345`\n",
    "Task ID: task_abc123\nStatus: queued\nProgress: 12%\nProgress: 45%\n"
    "Generation completed!\n[Watch video](https://x/y.mp4)\n",
    "> ID: `task_abcdef01`\n>🏃 进度 20%\n> ❌ 生成失败：内容违规\n",
    "> ID: `task_abcdef01`\n>🏃 进度 20%\nsorry, try later",
    "error-free render: [Watch video](https://x/y.mp4)\n",
    "Your video: https://cdn.example/out/clip.mp4.\n[Download](https://cdn.example/file?id=9)",
    progress_line(list(range(1, 100)), " "),
    progress_line(list(range(1, 100)), ".."),
    progress_line(list(range(0, 101, 3)), "% "),
    progress_line(list(range(1, 100)), " ") + "\n" + progress_line([5, 50, 99], ", "),
    "rendering (7.5%) (12.25%) (60%) 99.9%\n生成中 1.5.. 2.75.. 33.333..",
    "progress 1234 5678 100.0001 42 ",
    "Progress: ٣٦% ٤٤%\nprogress 50\u00a0",
]


def cut(text: str, rng: random.Random) -> list[str]:
    if len(text) < 2:
        return [text]
    k = rng.randint(1, len(text) - 1)
    cuts = sorted(rng.sample(range(1, len(text)), k))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


@pytest.mark.parametrize("text", CORPUS, ids=range(len(CORPUS)))
def test_any_chunking_reads_like_one_piece(text):
    whole = scan([text])()
    rng = random.Random(len(text))
    for pieces in [per_char(text)] + [cut(text, rng) for _ in range(60)]:
        assert outcome(scan(pieces)()) == outcome(whole), pieces


@pytest.mark.parametrize("text", CORPUS, ids=range(len(CORPUS)))
def test_any_chunking_streams_like_one_piece(text):
    whole = stream([text])()
    rng = random.Random(len(text) + 1)
    for pieces in [per_char(text), *(cut(text, rng) for _ in range(10))]:
        state = stream(pieces)()
        assert outcome(state.scanner) == outcome(whole.scanner)
        assert state.text == text
        assert state.job(dialect="chat") == whole.job(dialect="chat")


# --- the same answers after every chunk as the plain (quadratic) reading ------------------------


class PlainScanner(ChatTextScanner):
    """The scanner as it was before it became incremental: it rescans the whole unfinished line
    for every chunk. Simple to check by eye, and the reference the fast one must agree with."""

    def __init__(self) -> None:
        super().__init__()
        self._plain_line = ""
        self._plain_line_is_progress = False

    def feed(self, delta: str) -> None:
        if not delta:
            return
        start = max(0, len(self._plain_line) - chat._CONTEXT_SPAN)
        self._plain_line += delta
        if "\n" in delta:
            *complete, self._plain_line = self._plain_line.split("\n")
            for line in complete:
                self._scan_line(line)
            start = 0
            self._plain_line_is_progress = False
        line = self._plain_line
        if not line or self._in_fence or line.lstrip().startswith("```"):
            return
        if not self._plain_line_is_progress:
            self._plain_line_is_progress = bool(chat._PROGRESS_CONTEXT.search(line, start))
        if self._plain_line_is_progress:
            self._plain_progress(line)

    def close(self) -> None:
        if self._plain_line:
            self._scan_line(self._plain_line)
            self._plain_line = ""

    def _plain_progress(self, line: str) -> None:
        numbers = [float(m) for m in chat._PROGRESS_NUMBER.findall(line + "\0")]
        numbers = [n for n in numbers if 0 <= n <= 100]
        if numbers and (self.progress is None or numbers[-1] >= self.progress):
            self.progress = numbers[-1]


ALPHABET = [
    *"0123456789",
    *"0123456789",
    ".",
    ".",
    "..",
    " ",
    "%",
    ",",
    ")",
    "|",
    "/",
    "x",
    "_",
    "a1",
    "٣",
    "\u00a0",
    "进度 ",
    "progress ",
    "Progress: ",
    "\n",
    "```\n",
    "``",
    "https://x/y.mp4 ",
    "done ✅",
    "failed",
    "ID: task_abcdef12 ",
]


def test_every_chunk_reads_like_the_plain_scanner():
    rng = random.Random(99)
    for _ in range(1500):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 80)))
        fast, plain = ChatTextScanner(), PlainScanner()
        pieces = cut(text, rng)
        if rng.random() < 0.3:
            pieces.insert(rng.randrange(len(pieces) + 1), "")
        for i, piece in enumerate(pieces):
            fast.feed(piece)
            plain.feed(piece)
            assert outcome(fast) == outcome(plain), (pieces[: i + 1], text)
            if rng.random() < 0.02:  # close mid-way, then go on (a finish chunk, then more)
                fast.close()
                plain.close()
                assert outcome(fast) == outcome(plain), (pieces[: i + 1], "close")
        fast.close()
        plain.close()
        assert outcome(fast) == outcome(plain), (pieces, "close")
