"""Reading back what the emulator rendered, to check it independently of sora_nb's own code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    pix_fmt: str
    width: int
    height: int
    duration: float
    frames: int
    faststart: bool


def probe(path: str | Path) -> VideoInfo:
    """Decode every frame with PyAV: codec, size, duration and whether moov precedes mdat."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        duration = (
            float(stream.duration * stream.time_base)
            if stream.duration
            else container.duration / 1e6
        )
        info = (
            stream.codec_context.name,
            stream.codec_context.pix_fmt,
            stream.codec_context.width,
            stream.codec_context.height,
        )
    head = Path(path).read_bytes()[: 1 << 16] if Path(path).stat().st_size else b""
    moov, mdat = head.find(b"moov"), head.find(b"mdat")
    return VideoInfo(
        *info,
        duration=duration,
        frames=frames,
        faststart=moov != -1 and (mdat == -1 or moov < mdat),
    )
