"""The text a chat relay streams while it renders a video, and replies of ordinary chat models.

The default ("zh") video template follows one relay family (video models on /chat/completions,
as the 6ai.chat and winfull relays document them: api.6ai.chat, api.winfull.cloud-ip.cc):

    ```json
    {"prompt": "…", "orientation": "portrait"}
    ```

    > ID: `task_…`
    > 排队中...
    > 生成中...

    >🏃 进度 36..44..61..81..

    > 生成完成 ✅

    ![https://…/thumb.webp](https://…/thumb.webp)
    [在线播放▶️](https://…/….mp4)

"en" words the same events differently ("Progress: 36% 44%", "[Watch the video](…)"), as other
relays do, so clients can be checked to parse by meaning rather than by one template.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "TEMPLATES",
    "Template",
    "chat_video_params",
    "last_user_text",
    "ordinary_reply",
    "split_chunks",
]


@dataclass(frozen=True)
class Template:
    """How one relay family words the events of a video render."""

    header: str  # {block}: the JSON of prompt and orientation; {prompt}, {orientation}
    task_id: str  # {id}
    queued: str
    rendering: str
    progress_prefix: str
    progress: str  # {pct}
    done: str  # {thumb}, {video}
    failed: str  # {reason}

    def header_text(self, prompt: str, orientation: str) -> str:
        block = json.dumps({"prompt": prompt, "orientation": orientation}, ensure_ascii=False)
        return self.header.format(block=block, prompt=prompt, orientation=orientation)

    def id_text(self, task_id: str) -> str:
        return self.task_id.format(id=task_id)

    def progress_text(self, pct: int, *, first: bool) -> str:
        return (self.progress_prefix if first else "") + self.progress.format(pct=pct)

    def done_text(self, thumbnail_url: str, video_url: str, *, after_progress: bool) -> str:
        lead = "\n\n" if after_progress else "\n"
        return lead + self.done.format(thumb=thumbnail_url, video=video_url)

    def failed_text(self, reason: str, *, after_progress: bool) -> str:
        lead = "\n\n" if after_progress else "\n"
        return lead + self.failed.format(reason=reason)


TEMPLATES = {
    "zh": Template(
        header="```json\n{block}\n```\n\n",
        task_id="> ID: `{id}`\n",
        queued="> 排队中...\n",
        rendering="> 生成中...\n",
        progress_prefix="\n>🏃 进度 ",
        progress="{pct}..",
        done="> 生成完成 ✅\n\n![{thumb}]({thumb})\n[在线播放▶️]({video})\n",
        failed="> 生成失败 ❌\n> 原因: {reason}\n",
    ),
    "en": Template(
        header='Creating a video for "{prompt}" ({orientation}).\n\n',
        task_id="Task: {id}\n",
        queued="Status: queued, waiting for a free slot…\n",
        rendering="Status: generating 🎬\n",
        progress_prefix="\nProgress: ",
        progress="{pct}% ",
        done="Your video is ready!\n\n![preview]({thumb})\n[Watch the video]({video})\n",
        failed="Generation failed: {reason}\n",
    ),
}


def last_user_text(messages: Any) -> tuple[str, list[str]]:
    """Text and image URLs of the last user message (content may be a list of parts)."""
    if not isinstance(messages, list):
        return "", []
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content, []
        texts, images = [], []
        for part in content if isinstance(content, list) else []:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text":
                texts.append(str(part.get("text", "")))
            elif part.get("type") == "image_url":
                url = part.get("image_url")
                images.append(str(url.get("url") if isinstance(url, dict) else url))
        return "\n".join(texts), images
    return "", []


def chat_video_params(model: str, prompt: str) -> tuple[str, float]:
    """Orientation and duration a chat relay infers from the model name and the prompt."""
    text = f"{model} {prompt}".lower()
    orientation = "landscape" if "landscape" in text or "横屏" in text else "portrait"
    m = re.search(r"(\d+)s\b", model.lower())
    seconds = float(m.group(1)) if m else 10.0
    return orientation, seconds


_WORDS = (
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "yankee",
    "zulu",
)


def ordinary_reply(model: str, messages: Any, seed: int | None, min_chunks: int = 0) -> str:
    """A deterministic reply: it echoes the last user message, then seeded filler words.

    Long enough to be split into `min_chunks` non-empty chunks.
    """
    text, images = last_user_text(messages)
    rng = random.Random(f"sora-emulator-chat:{seed}:{model}:{text}")
    reply = f"Echo from {model}: {text}"
    if images:
        reply += f" ({len(images)} image{'s' if len(images) != 1 else ''})"
    words = [rng.choice(_WORDS) for _ in range(8)]
    reply += " | " + " ".join(words)
    while len(reply) < min_chunks:
        reply += " " + rng.choice(_WORDS)
    return reply


def split_chunks(text: str, n: int | None) -> list[str]:
    """`n` non-empty pieces (n <= len(text)), or word-sized pieces when n is None."""
    if not text:
        return []
    if n is None:
        return re.findall(r"\S+\s*|\s+", text)
    n = max(1, min(n, len(text)))
    size, extra = divmod(len(text), n)
    pieces, pos = [], 0
    for i in range(n):
        step = size + (1 if i < extra else 0)
        pieces.append(text[pos : pos + step])
        pos += step
    return pieces
