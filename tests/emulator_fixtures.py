"""Helpers shared by the emulator's own tests (and usable by others): media probes, SSE parsing.

Import explicitly; this is not a conftest.
"""

from __future__ import annotations

import array
import asyncio
import io
import json
import math
import struct
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import av

T = TypeVar("T")


def run_async(make: Callable[[], Awaitable[T]], timeout: float = 60) -> T:
    """Run a coroutine on a fresh loop in its own thread.

    Robust even when something earlier in the session left a loop running in the main thread
    (where `asyncio.run` refuses to start).
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(make())  # type: ignore[arg-type]
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="emulator-test-async")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"coroutine still running after {timeout} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


UNIFIED_BODY: dict[str, Any] = {
    "images": [],
    "model": "sora-2",
    "orientation": "portrait",
    "prompt": "make animate",
    "size": "small",
    "duration": 10,
}


def unified_body(**changes: Any) -> dict[str, Any]:
    body = dict(UNIFIED_BODY)
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@dataclass
class Mp4Probe:
    codec: str
    pix_fmt: str
    width: int
    height: int
    fps: float
    frames: int
    duration: float  # seconds, from the container
    lumas: list[bytes]  # Y plane of each decoded frame (tightly packed)


def probe_mp4(data: bytes) -> Mp4Probe:
    """Decode every frame of an mp4 held in memory."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        lumas = []
        for frame in container.decode(video=0):
            plane = frame.planes[0]
            raw = bytes(plane)
            lumas.append(
                b"".join(
                    raw[r * plane.line_size : r * plane.line_size + plane.width]
                    for r in range(plane.height)
                )
            )
        return Mp4Probe(
            codec=ctx.name,
            pix_fmt=ctx.pix_fmt,
            width=stream.width,
            height=stream.height,
            fps=float(stream.average_rate or 0),
            frames=len(lumas),
            duration=(container.duration or 0) / 1_000_000,
            lumas=lumas,
        )


@dataclass
class Mp4Audio:
    streams: int  # audio streams in the file
    codec: str
    profile: str | None  # "LC" for AAC-LC
    codec_tag: str  # "mp4a"
    object_type: int  # MPEG-4 audio object type from the AudioSpecificConfig: 2 = AAC-LC
    rate: int
    channels: int
    duration: float  # seconds, from the stream's header (edit list applied)
    packets: list[bytes]  # the encoded packets, in order
    samples: array.array  # first channel, decoded, as floats

    @property
    def decoded_seconds(self) -> float:
        return len(self.samples) / self.rate

    def rms(self, start: float = 0.0, stop: float | None = None) -> float:
        """Root mean square of the decoded samples between two moments (seconds)."""
        lo = int(start * self.rate)
        hi = len(self.samples) if stop is None else int(stop * self.rate)
        part = self.samples[lo:hi]
        return math.sqrt(sum(x * x for x in part) / max(1, len(part)))

    def power(self, freq: float, start: float, stop: float) -> float:
        """Normalised power at `freq` Hz between two moments (Goertzel); a full-scale sine: 1."""
        part = self.samples[int(start * self.rate) : int(stop * self.rate)]
        coeff = 2 * math.cos(2 * math.pi * freq / self.rate)
        s1 = s2 = 0.0
        for x in part:
            s1, s2 = x + coeff * s1 - s2, s1
        return (s1 * s1 + s2 * s2 - coeff * s1 * s2) * 4 / max(1, len(part)) ** 2


def probe_audio(data: bytes) -> Mp4Audio:
    """The audio of an mp4 held in memory: its first audio stream, demuxed and decoded."""
    with av.open(io.BytesIO(data)) as container:
        streams = len(container.streams.audio)
        assert streams, "no audio stream"
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        head = (ctx.name, ctx.profile, ctx.codec_tag, ctx.extradata or b"\x00", ctx.sample_rate)
        channels, duration = ctx.channels, float((stream.duration or 0) * stream.time_base)
        packets = [bytes(p) for p in container.demux(stream) if p.size]
    samples = array.array("f")
    with av.open(io.BytesIO(data)) as container:
        for frame in container.decode(audio=0):
            assert frame.format.name == "fltp", frame.format.name  # what FFmpeg's AAC decoder gives
            samples.frombytes(bytes(frame.planes[0])[: 4 * frame.samples])
    codec, profile, codec_tag, extradata, rate = head
    return Mp4Audio(
        streams=streams,
        codec=codec,
        profile=profile,
        codec_tag=codec_tag,
        object_type=extradata[0] >> 3,
        rate=rate,
        channels=channels,
        duration=duration,
        packets=packets,
        samples=samples,
    )


def top_level_boxes(data: bytes) -> list[tuple[str, int]]:
    """(type, size) of each top-level mp4 box, in file order."""
    boxes, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        elif size == 0:
            size = len(data) - pos
        boxes.append((kind.decode("latin-1"), size))
        if size < 8:
            break
        pos += size
    return boxes


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


@dataclass
class SseStream:
    raw: bytes
    chunks: list[dict[str, Any]]  # parsed `data:` JSON objects, in order
    comments: list[str]
    done: bool  # saw `data: [DONE]`
    after_done: list[str]  # anything that came after [DONE]

    @property
    def text(self) -> str:
        return "".join(
            (c["choices"][0]["delta"].get("content") or "") for c in self.chunks if c["choices"]
        )


def parse_sse(raw: bytes) -> SseStream:
    """Split a raw SSE body by hand (CRLF or LF framing), no SSE library involved."""
    text = raw.decode("utf-8")
    chunks, comments, after = [], [], []
    done = False
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line:
            continue
        if done:
            after.append(line)
        elif line.startswith(":"):
            comments.append(line[1:].strip())
        elif line == "data: [DONE]":
            done = True
        elif line.startswith("data: "):
            chunks.append(json.loads(line[6:]))
        else:
            raise AssertionError(f"unexpected SSE line: {line!r}")
    return SseStream(raw, chunks, comments, done, after)
