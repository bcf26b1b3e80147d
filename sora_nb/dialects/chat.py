"""Dialect ``chat``: POST /chat/completions, and what streamed chat text means. Pure.

Video models on chat endpoints report their work in prose: a task id, progress numbers, then a
link. Relays word it differently (languages, emoji, link text), so :class:`ChatTextScanner` reads
by meaning, incrementally (each byte of text is scanned a bounded number of times, so a
5,000-chunk stream stays linear).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import Any

from .._exceptions import ProtocolError
from .._secret import Secret, StreamScrubber, scrub
from ..models import ChatEvent, Job, VideoRequest
from ._base import HttpRequest, ImageRef, error_text
from ._dialect import Abilities, Dialect

__all__ = [
    "CHAT",
    "ChatDialect",
    "ChatStreamState",
    "ChatTextScanner",
    "build_chat",
    "completion_state",
    "parse_chat_completion",
]

_ID_AFTER_LABEL = re.compile(
    r"(?:task[ _-]?id|\bid|任务\s*id|任务编号)\s*[:：=]\s*[`'\"]?([A-Za-z0-9][A-Za-z0-9:_.\-]{5,})",
    re.IGNORECASE,
)
_ID_BARE = re.compile(r"\b((?:task|video|gen)_[A-Za-z0-9][A-Za-z0-9_\-]{5,})\b")
_PROGRESS_CONTEXT = re.compile(
    r"进度|progress|🏃|生成中|processing|rendering|generating|%", re.IGNORECASE
)
# A number counts once something follows it, so "4" then "4" streamed is read as 44, not 4.
_PROGRESS_NUMBER = re.compile(r"(?<!\w)(?<!\d\.)(\d{1,3}(?:\.\d+)?)(?=\s*%|\.\.|[\s,;/)|]|$)")
_CONTEXT_SPAN = 12  # longest progress keyword, in characters: how far back a new chunk looks
# A number still arriving at the end of the unfinished line, and one in its decimals.
_OPEN_NUMBER = re.compile(r"\d{1,3}(?:\.\d+)?\.?")
_DECIMALS = re.compile(r"\d{1,3}\.\d+")
_MD_LINK = re.compile(r"(!?)\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?\s*\)")
_BARE_URL = re.compile(r"https?://[^\s<>\"'`)\]]+")
_HTML_SRC = re.compile(r"<(?:video|source)\b[^>]*?\bsrc\s*=\s*['\"]?([^'\"\s>]+)", re.IGNORECASE)
_VIDEO_EXT = re.compile(r"\.(?:mp4|webm|mov|m4v|mkv)(?:$|[?#])", re.IGNORECASE)
_VIDEO_WORDS = re.compile(r"播放|play|video|视频|下载|download|watch|▶", re.IGNORECASE)
_DONE_WORDS = re.compile(r"生成完成|完成|completed|succeeded|done|✅", re.IGNORECASE)
_FAIL_WORDS = re.compile(r"失败|failed|failure|error|违规|rejected|❌", re.IGNORECASE)


def build_chat(
    messages: Sequence[Mapping[str, Any]],
    *,
    model: str,
    stream: bool = True,
    **params: Any,
) -> HttpRequest:
    """The chat completion request; ``params`` (temperature, max_tokens, tools…) pass through."""
    body: dict[str, Any] = {"model": model, "messages": list(messages), "stream": stream}
    body.update({k: v for k, v in params.items() if v is not None})
    return HttpRequest("POST", "chat/completions", "chat", json=body)


class ChatTextScanner:
    """Reads progress, task id and video links out of chat text as it grows.

    Complete lines are scanned once for everything; the unfinished last line is scanned for
    progress only, and only once a progress word has appeared on it (found by looking at each
    new chunk, not the whole line). Text inside ``` fences (relays echo the prompt there) is
    never read as progress.

    The unfinished line is never rescanned: numbers already settled (something followed them)
    are counted once, and only the tail that may still grow into a number (``12``, ``12.``,
    ``12.5``) is looked at again with the next chunk. So each character costs a bounded amount
    of work however finely the stream is cut.
    """

    def __init__(self) -> None:
        self.progress: float | None = None
        self.task_id: str | None = None
        self.video_urls: list[str] = []
        self.finished = False  # the text said it is done
        self.failed_line: str | None = None
        self._line_is_progress = False
        self._in_fence = False
        self._new_line("")

    def _new_line(self, text: str) -> None:
        self._pieces = [text] if text else []  # the unfinished line, joined once it ends
        self._head = text.lstrip()[:3]  # its first characters, to tell a ``` fence
        self._recent = text[-_CONTEXT_SPAN:]  # its end, for a progress word split in two
        # Progress on the unfinished line: text before ``_pending`` is settled (its numbers
        # counted); ``_before`` is the two characters before it (the number pattern looks back
        # two); ``_fraction`` says the pending text is a number whose decimals are arriving.
        self._before = ""
        self._pending: list[str] = []
        self._fraction = False

    def feed(self, delta: str) -> None:
        if not delta:
            return
        if "\n" in delta:
            ended, _, rest = delta.rpartition("\n")
            for line in ("".join(self._pieces) + ended).split("\n"):
                self._scan_line(line)
            self._new_line(rest)
            self._line_is_progress = False
            recent, new = "", rest
        else:
            recent, new = self._recent, delta
            self._pieces.append(delta)
            if len(self._head) < 3:
                self._head = (self._head + delta)[:3] if self._head else delta.lstrip()[:3]
            self._recent = (recent + delta)[-_CONTEXT_SPAN:]
        if not self._pieces or self._in_fence or self._head == "```":
            return
        if not self._line_is_progress:
            if not _PROGRESS_CONTEXT.search(recent + new):
                return
            # The line just became a progress line: read it from its start, once.
            self._line_is_progress = True
            self._before, self._pending, self._fraction = "", [], False
            new = "".join(self._pieces)
        self._scan_unfinished(new)

    def close(self) -> None:
        """The text is complete: scan the last line fully."""
        line = "".join(self._pieces)
        if line:
            self._scan_line(line)
        self._new_line("")

    def _scan_unfinished(self, new: str) -> None:
        """Count the numbers ``new`` settles on the unfinished progress line.

        Same reading as scanning the whole line each time (a number counts once something
        follows it; the last one on the line is the progress), done on the unsettled tail only.
        """
        if self._fraction and new.isdecimal():
            self._pending.append(new)  # more decimals: nothing can settle yet
            return
        text = self._before + "".join(self._pending) + new
        base = len(self._before)
        last = None
        # "\0" stands for "more may follow": a number right at the end is not read yet.
        for match in _PROGRESS_NUMBER.finditer(text + "\0", base):
            value = float(match.group(1))
            if 0 <= value <= 100:
                last = value
        # Numbers settled earlier were counted when they settled: the line's last number is
        # the last one here, if any.
        if last is not None and (self.progress is None or last >= self.progress):
            self.progress = last
        keep = _unsettled(text, base)
        self._before = text[max(0, keep - 2) : keep]
        self._pending = [text[keep:]] if keep < len(text) else []
        self._fraction = bool(self._pending) and bool(_DECIMALS.fullmatch(text, keep))

    def _scan_line(self, line: str) -> None:
        if line.lstrip().startswith("```"):
            self._in_fence = not self._in_fence
            return
        if self._in_fence:
            # Fences hold echoed prompts (never progress) but also, on Sora bridges, the answer
            # itself: "```html\n<video src='…' controls></video>\n```" (TheSmallHanCat/sora2api
            # src/services/generation_handler.py). Links are read there; nothing else is.
            self._add_links(line)
            return
        if self.task_id is None:
            match = _ID_AFTER_LABEL.search(line) or _ID_BARE.search(line)
            if match:
                self.task_id = match.group(1).rstrip(".`'\"")
        if _PROGRESS_CONTEXT.search(line):
            self._scan_progress(line, final=True)
        self._add_links(line)
        if _DONE_WORDS.search(line) and not _FAIL_WORDS.search(line):
            self.finished = True
        elif _FAIL_WORDS.search(line) and "http" not in line:
            self.failed_line = line.strip(" >*_\t")

    def _add_links(self, line: str) -> None:
        for url in _video_links(line):
            if url not in self.video_urls:
                self.video_urls.append(url)

    def _scan_progress(self, line: str, *, final: bool) -> None:
        numbers = [float(m) for m in _PROGRESS_NUMBER.findall(line if final else line + "\0")]
        numbers = [n for n in numbers if 0 <= n <= 100]
        if numbers:
            # Progress only grows; a smaller number later on the line is something else.
            value = numbers[-1]
            if self.progress is None or value >= self.progress:
                self.progress = value


def _is_numeric(char: str) -> bool:
    """A character a progress number is made of: a decimal digit (any script) or a dot."""
    return char == "." or char.isdecimal()


def _unsettled(text: str, base: int) -> int:
    """Where the part of ``text`` that more text could still change begins (at least ``base``).

    The number pattern reads digits and dots, two characters back and two ahead, so whether a
    number starts at some place is settled once a character that is neither digit nor dot
    follows it, or a ``..`` (which no number contains). After the last of those, at most one
    number can start (at the run's first digit); it is open while the run is still a possible
    prefix of a number followed by more: ``12``, ``12.``, ``12.5``, ``12.5.``.
    """
    end = len(text)
    run = end
    while run > base and _is_numeric(text[run - 1]):
        run -= 1
    if run == end:
        return end
    dots = text.rfind("..", max(run - 1, 0))
    start = dots + 2 if dots >= 0 else run
    # Inside the run from here there is no "..": a number can start only at its first digit.
    first = start + 1 if start < end and text[start] == "." else start
    if first >= end:
        return end
    before = text[first - 1] if first >= 1 else ""
    if before and (before.isalnum() or before == "_"):
        return end  # a letter or digit before it: no number starts here (the pattern's \w)
    if before == "." and first >= 2 and text[first - 2].isdecimal():
        return end  # "5.x": the pattern's (?<!\d\.)
    if _OPEN_NUMBER.fullmatch(text, first):
        return first
    return end


def _video_links(line: str) -> Iterable[str]:
    seen_in_md: set[str] = set()
    # A <video src> or <source src> is a video whatever its name (sora2api links its cache,
    # http://host:port/tmp/<file>).
    for url in _HTML_SRC.findall(line):
        seen_in_md.add(url)
        if url.lower().startswith(("http://", "https://")):
            yield url
    for bang, label, url in _MD_LINK.findall(line):
        seen_in_md.add(url)
        if not url.lower().startswith(("http://", "https://")):
            continue
        if bang:  # an image: a thumbnail, unless the URL itself is a video file
            if _VIDEO_EXT.search(url):
                yield url
            continue
        if _VIDEO_EXT.search(url) or _VIDEO_WORDS.search(label):
            yield url
    for url in _BARE_URL.findall(line):
        url = url.rstrip(".,;")
        if url not in seen_in_md and _VIDEO_EXT.search(url):
            yield url


class ChatStreamState:
    """Turns ``chat.completion.chunk`` payloads into :class:`ChatEvent` values.

    Feed each SSE ``data`` field to :meth:`feed`; it returns an event, or None for payloads that
    carry nothing (keep-alives, role-only deltas). ``[DONE]`` sets :attr:`done`.

    ``secrets``: keys to keep out of the text even when a relay streams one back piece by piece
    (each delta passes a :class:`~sora_nb._secret.StreamScrubber`, which holds back only what
    could be the start of a key until the next piece says otherwise).
    """

    def __init__(self, secrets: Iterable[Secret | str | None] = ()) -> None:
        self._secrets = tuple(secrets)
        self._scrub: StreamScrubber | None = StreamScrubber(self._secrets) if secrets else None
        self.scanner = ChatTextScanner()
        # Sora bridges stream their progress as reasoning, not content: "**Video Generation
        # Progress**: 45% (processing)" in delta.reasoning_content, with content null
        # (TheSmallHanCat/sora2api src/services/generation_handler.py _format_stream_chunk).
        # It is read for meaning (progress, task id, links) but is not the answer's text.
        self.thinking = ChatTextScanner()
        self.error: Any = None  # an {"error": …} object the gateway sent inside the stream
        self.parts: list[str] = []
        self._joined = _Joined(self.parts)
        self.done = False
        self.finish_reason: str | None = None
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.usage: Mapping[str, Any] | None = None
        self._text_len = 0

    @property
    def text(self) -> str:
        return self._text().upto(len(self.parts))

    def _text(self) -> _Joined:
        if self._joined.parts is not self.parts:  # parts replaced wholesale
            self._joined = _Joined(self.parts)
        return self._joined

    @property
    def complete(self) -> bool:
        """Whether the gateway said the answer is finished (``[DONE]`` or a finish reason)."""
        return self.done or self.finish_reason is not None

    def feed(self, data: str) -> ChatEvent | None:
        data = data.strip()
        if not data:
            return None
        if data == "[DONE]":
            self.done = True
            self.thinking.close()
            rest = self._scrubbed("", final=True)
            if rest:
                self.parts.append(rest)
                self.scanner.feed(rest)
            self.scanner.close()
            return self.event(rest) if rest else None
        try:
            chunk = json.loads(data)
        except ValueError:
            return None  # some relays interleave non-JSON keep-alive data
        if not isinstance(chunk, Mapping):
            return None
        if chunk.get("error") and not chunk.get("choices"):
            # Sent inside an HTTP 200 stream, it is the gateway's answer: the generation failed
            # with this reason, or the API error it names (sora2api routes.py generate():
            # 'data: {"error": {"message": str(e), "type": "server_error"}}' then [DONE]).
            self.error = chunk["error"]
            self.finish_reason = self.finish_reason or "error"
            self.scanner.close()
            self.thinking.close()
            return self.event("", chunk)
        delta_text = ""
        tool_deltas: list[Mapping[str, Any]] = []
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, Mapping):
                continue
            delta = choice.get("delta") or choice.get("message") or {}
            content = delta.get("content") if isinstance(delta, Mapping) else None
            if isinstance(content, str):
                delta_text += content
            reasoning = delta.get("reasoning_content") if isinstance(delta, Mapping) else None
            if isinstance(reasoning, str) and reasoning:
                self.thinking.feed(self._scrubbed_thought(reasoning))
            calls = delta.get("tool_calls") if isinstance(delta, Mapping) else None
            if isinstance(calls, list):
                tool_deltas.extend(c for c in calls if isinstance(c, Mapping))
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])
        if isinstance(chunk.get("usage"), Mapping):
            self.usage = chunk["usage"]
        self._merge_tool_calls(tool_deltas)
        arrived = bool(delta_text)
        delta_text = self._scrubbed(delta_text, final=self.finish_reason is not None)
        if delta_text:
            self.parts.append(delta_text)
            self.scanner.feed(delta_text)
        if self.finish_reason is not None:
            self.scanner.close()
            self.thinking.close()
        # A piece held back (it could be the start of a key) is still an event, with no text yet:
        # one event per piece of text, as it arrives.
        if not arrived and not tool_deltas and self.finish_reason is None and not self.usage:
            return None
        return self.event(delta_text, chunk)

    def _scrubbed(self, text: str, *, final: bool) -> str:
        scrubber = self._scrub
        if scrubber is None:
            return text
        out = scrubber.feed(text) if text else ""
        if final:
            out += scrubber.close()
            self._scrub = None
        return out

    @property
    def progress(self) -> float | None:
        """The progress the answer and its reasoning report, whichever is further."""
        values = [v for v in (self.scanner.progress, self.thinking.progress) if v is not None]
        return max(values) if values else None

    @property
    def task_id(self) -> str | None:
        return self.scanner.task_id or self.thinking.task_id

    @property
    def video_urls(self) -> list[str]:
        """Links in the answer, else in the reasoning."""
        return self.scanner.video_urls or self.thinking.video_urls

    def _scrubbed_thought(self, text: str) -> str:
        # Reasoning is scrubbed per piece (whole lines on the bridges that send it).
        return scrub(text, self._secrets) if self._secrets else text

    def event(self, delta_text: str, raw: Mapping[str, Any] | None = None) -> ChatEvent:
        return ChatEvent(
            text=delta_text,
            # Built only if read: a stream of n chunks must not cost n² characters.
            full_text=partial(self._text().upto, len(self.parts)),  # type: ignore[arg-type]
            progress=self.progress,
            task_id=self.task_id,
            video_urls=tuple(self.video_urls),
            finish_reason=self.finish_reason,
            tool_calls=tuple(self.tool_calls[i] for i in sorted(self.tool_calls)),
            usage=self.usage,
            raw=raw or {},
        )

    def job(
        self,
        *,
        dialect: str,
        model: str | None = None,
        prompt: str | None = None,
        with_text: bool = True,
    ) -> Job:
        """What the text says about the video job it is about.

        Completed once a video link appears; failed when the answer is complete without one and
        its text reports a failure (or simply ends); otherwise still running.
        """
        urls = self.video_urls
        error = None
        if urls and self.error is None:
            status = "completed"
        elif self.complete:
            status = "failed"
            error = (
                error_text(self.error)
                or self.scanner.failed_line
                or self.thinking.failed_line
                or (
                    "the answer ended without a video link: "
                    + (self.text.strip().splitlines() or ["(no text)"])[-1][:200]
                )
            )
        elif self.progress is not None:
            status = "in_progress"
        else:
            status = "queued"
        return Job(
            id=self.task_id or "",
            status=status,  # type: ignore[arg-type]
            dialect=dialect,
            progress=100.0 if status == "completed" else self.progress,
            model=model,
            prompt=prompt,
            video_url=urls[-1] if urls else None,
            error=error,
            # The whole text costs a join: a stream asks per chunk with with_text=False.
            raw={"text": self.text} if with_text else {},
        )

    def _merge_tool_calls(self, deltas: list[Mapping[str, Any]]) -> None:
        # Streamed tool calls arrive as fragments keyed by index; arguments are concatenated.
        for delta in deltas:
            index = delta.get("index", len(self.tool_calls))
            call = self.tool_calls.setdefault(
                int(index) if isinstance(index, int) else len(self.tool_calls),
                {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
            )
            if delta.get("id"):
                call["id"] = delta["id"]
            function = delta.get("function") or {}
            if isinstance(function, Mapping):
                if function.get("name"):
                    call["function"]["name"] += str(function["name"])
                if function.get("arguments"):
                    call["function"]["arguments"] += str(function["arguments"])


class _Joined:
    """A stream's text as the pieces it arrived in, joined on demand: asking for the text up to
    the newest piece joins only the pieces added since the last time."""

    __slots__ = ("_count", "_text", "parts")

    def __init__(self, parts: list[str]) -> None:
        self.parts = parts
        self._text = ""
        self._count = 0

    def upto(self, count: int) -> str:
        if count < self._count:  # an older event read late
            return "".join(self.parts[:count])
        if count > self._count:
            self._text += "".join(self.parts[self._count : count])
            self._count = count
        return self._text


def parse_chat_completion(body: Any) -> ChatEvent:
    """A non-streamed ``chat.completion`` answer as one ChatEvent holding the whole text."""
    state = completion_state(body)
    return state.event(state.text, body)


def completion_state(body: Any) -> ChatStreamState:
    """The state a whole non-streamed ``chat.completion`` leaves, as if it had been streamed."""
    if not isinstance(body, Mapping):
        raise ProtocolError("the chat answer is not a JSON object")
    state = ChatStreamState()
    message: Any = None
    choices = body.get("choices") or []
    if choices and isinstance(choices[0], Mapping):
        message = choices[0].get("message") or {}
        state.finish_reason = choices[0].get("finish_reason")
    content = message.get("content") if isinstance(message, Mapping) else None
    text = content if isinstance(content, str) else ""
    state.parts.append(text)
    state.scanner.feed(text)
    state.scanner.close()
    if isinstance(message, Mapping) and isinstance(message.get("tool_calls"), list):
        for i, call in enumerate(message["tool_calls"]):
            if isinstance(call, Mapping):
                state.tool_calls[i] = dict(call)
    if isinstance(body.get("usage"), Mapping):
        state.usage = body["usage"]
    state.done = True
    return state


class ChatDialect(Dialect):
    """``/chat/completions`` with a video model (as the 6ai.chat, winfull and st-ai relays document
    it: api.6ai.chat, api.winfull.cloud-ip.cc, api.sora2.pub): the job is one streamed answer whose
    text carries the task id, the progress and, at the end, the link
    (:meth:`ChatStreamState.job` reads it). No status route; only a prompt is sent."""

    name = "chat"
    rules = None
    # Images go as image_url content parts; local files as data URLs (sora2api reads only
    # "data:image" URLs there: src/api/routes.py; OpenAI-style relays take either).
    abilities = Abilities(poll=False, streams=True, options=False, images=("data_url", "url"))
    description = "POST /chat/completions, streamed; the text carries progress and the link"

    def build_create(self, request: VideoRequest, images: Sequence[ImageRef] = ()) -> HttpRequest:
        content: Any = request.prompt
        if images:
            content = [{"type": "text", "text": request.prompt}] + [
                {
                    "type": "image_url",
                    "image_url": {"url": image if isinstance(image, str) else image.data_url()},
                }
                for image in images
            ]
        return build_chat(
            [{"role": "user", "content": content}],
            model=request.model,
            stream=True,
            **dict(request.extra),
        )


CHAT = ChatDialect()
