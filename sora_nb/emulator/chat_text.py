"""The text a chat relay streams while it renders a video, and replies of ordinary chat models.

The video template follows one relay family (PROTOCOLS.md, dialect `chat`):

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
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

__all__ = [
    "chat_video_params",
    "done_text",
    "failed_text",
    "header_text",
    "id_text",
    "last_user_text",
    "ordinary_reply",
    "progress_text",
    "split_chunks",
]

QUEUED_TEXT = "> 排队中...\n"
RENDERING_TEXT = "> 生成中...\n"
PROGRESS_PREFIX = "\n>🏃 进度 "


def header_text(prompt: str, orientation: str) -> str:
    block = json.dumps({"prompt": prompt, "orientation": orientation}, ensure_ascii=False)
    return f"```json\n{block}\n```\n\n"


def id_text(task_id: str) -> str:
    return f"> ID: `{task_id}`\n"


def progress_text(pct: int) -> str:
    return f"{pct}.."


def done_text(thumbnail_url: str, video_url: str, *, after_progress: bool) -> str:
    lead = "\n\n" if after_progress else "\n"
    return f"{lead}> 生成完成 ✅\n\n![{thumbnail_url}]({thumbnail_url})\n[在线播放▶️]({video_url})\n"


def failed_text(reason: str, *, after_progress: bool) -> str:
    lead = "\n\n" if after_progress else "\n"
    return f"{lead}> 生成失败 ❌\n> 原因: {reason}\n"


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
