"""Real media for the emulator: an H.264 + AAC mp4, its thumbnail, spritesheet and GIF, PNG images.

Frames are drawn row by row with bytes operations (no numpy): a vertical gradient whose hue comes
from a hash of the prompt and seed, a square that moves along a path, and a timeline bar that grows
with time, so decoded frames differ over time and between prompts.

Every mp4 also carries sound, as Sora-2's videos do: one mono AAC-LC track (`mp4a.40.2`, 48 kHz)
as long as the video, a soft three-note chord whose root and kind come from the same hash, faded
in and out. Its samples are plain Python floats too (an `array` handed to `av.AudioFrame`): the
chord repeats exactly every 0.2 s, so one period is computed and repeated, and only the fades are
shaped sample by sample.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import math
import operator
import struct
import zlib
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

__all__ = [
    "RenderResult",
    "Style",
    "free_box_header",
    "iter_padded",
    "png_image",
    "render_video",
    "scaled_size",
]

CHUNK = 1 << 20  # 1 MiB: the unit of streamed padding, so a 1 GiB padding never sits in memory
_ZEROS = bytes(CHUNK)

AUDIO_RATE = 48_000  # Hz; a whole number of samples per frame at 24, 25, 30, 50 and 60 fps
AUDIO_BIT_RATE = 32_000  # b/s, mono AAC-LC: plenty for a chord, small next to the video
_TILE = AUDIO_RATE // 5  # 0.2 s: every note is a multiple of 5 Hz, so the chord repeats exactly
_CHORDS = ((0, 4, 7), (0, 3, 7), (0, 5, 7), (0, 7, 12))  # major, minor, sus4, fifth and octave


@dataclass(frozen=True)
class RenderResult:
    mp4: Path
    thumbnail: Path  # webp, first frame
    spritesheet: Path  # jpeg, four frames side by side
    gif: Path  # small animated preview
    width: int
    height: int
    frames: int
    fps: int


@dataclass(frozen=True)
class Style:
    """How a prompt looks and sounds: colours, motion, a chord; from a hash of prompt and seed."""

    hue: float
    hue2: float
    speed: float
    phase: float
    box: float  # square side as a fraction of the short edge
    root: int  # Hz, lowest note of the soundtrack's chord: a multiple of 5 in 200..400
    chord: tuple[int, int, int]  # semitones above the root of the chord's three notes

    @classmethod
    def of(cls, prompt: str, seed: int | None) -> Style:
        digest = hashlib.sha256(f"{seed}\x00{prompt}".encode()).digest()

        def unit(i: int) -> float:
            return int.from_bytes(digest[i : i + 4], "big") / 2**32

        hue = unit(0)
        return cls(
            hue=hue,
            hue2=(hue + 0.35 + 0.3 * unit(4)) % 1.0,
            speed=0.15 + 0.35 * unit(8),
            phase=unit(12),
            box=0.2 + 0.2 * unit(16),
            root=5 * (40 + int(41 * unit(20))),
            chord=_CHORDS[int(len(_CHORDS) * unit(24))],
        )

    def frequencies(self) -> tuple[int, ...]:
        """The chord's notes in Hz, equal-tempered and rounded to multiples of 5 Hz (`_TILE`)."""
        return tuple(5 * round(self.root * 2 ** (k / 12) / 5) for k in self.chord)


def scaled_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """The rendered size for a reported size: scaled, even (H.264 4:2:0 needs it), at least 16."""
    w = max(16, round(width * scale / 2) * 2)
    h = max(16, round(height * scale / 2) * 2)
    return w, h


def _yuv(r: float, g: float, b: float) -> tuple[int, int, int]:
    # BT.601 limited range, what x264 assumes for untagged yuv420p.
    y = 16 + 65.481 * r + 128.553 * g + 24.966 * b
    u = 128 - 37.797 * r - 74.203 * g + 112.0 * b
    v = 128 + 112.0 * r - 93.786 * g - 18.214 * b
    return tuple(max(0, min(255, round(c))) for c in (y, u, v))  # type: ignore[return-value]


class _Painter:
    """Draws the planes of one frame as lists of rows (exact width, no stride padding)."""

    def __init__(self, width: int, height: int, style: Style) -> None:
        self.w, self.h, self.style = width, height, style
        self.cw, self.ch = width // 2, height // 2
        _, bg_u, bg_v = _yuv(*colorsys.hsv_to_rgb(style.hue, 0.65, 0.6))
        self.fg = _yuv(*colorsys.hsv_to_rgb(style.hue2, 0.8, 0.95))
        # Gradient: luma varies by row, chroma is constant, so rows can be shared between frames.
        self.bg_y = [
            bytes([int(40 + 120 * (1 - abs(2 * y / max(1, height - 1) - 1)))]) * width
            for y in range(height)
        ]
        self.bg_u = [bytes([bg_u]) * self.cw] * self.ch
        self.bg_v = [bytes([bg_v]) * self.cw] * self.ch

    def planes(self, t: float, duration: float) -> tuple[list[bytes], list[bytes], list[bytes]]:
        s = self.style
        side = max(4, int(min(self.w, self.h) * s.box)) // 2 * 2
        angle = 2 * math.pi * (s.phase + s.speed * t)
        x0 = int((math.sin(angle) + 1) / 2 * (self.w - side)) // 2 * 2
        y0 = int((math.sin(1.7 * angle + 1.0) + 1) / 2 * (self.h - side)) // 2 * 2
        ys, us, vs = list(self.bg_y), list(self.bg_u), list(self.bg_v)
        _fill(ys, x0, y0, side, side, self.fg[0])
        _fill(us, x0 // 2, y0 // 2, side // 2, side // 2, self.fg[1])
        _fill(vs, x0 // 2, y0 // 2, side // 2, side // 2, self.fg[2])
        # Timeline bar along the bottom edge: grows monotonically, so no two frames are equal.
        bar_h = max(2, self.h // 40) // 2 * 2
        bar_w = int(self.w * min(1.0, t / duration if duration else 1.0)) // 2 * 2
        if bar_w:
            _fill(ys, 0, self.h - bar_h, bar_w, bar_h, 235)
            _fill(us, 0, (self.h - bar_h) // 2, bar_w // 2, bar_h // 2, 128)
            _fill(vs, 0, (self.h - bar_h) // 2, bar_w // 2, bar_h // 2, 128)
        return ys, us, vs


def _fill(rows: list[bytes], x: int, y: int, w: int, h: int, value: int) -> None:
    run = bytes([value]) * w
    for r in range(max(0, y), min(len(rows), y + h)):
        row = rows[r]
        rows[r] = row[:x] + run + row[x + w :]


@functools.lru_cache(maxsize=16)
def _fade(n: int) -> tuple[float, ...]:
    """A raised-cosine fade-in of `n` samples, from 0 up to just below 1 (cached: few lengths)."""
    return tuple(0.5 - 0.5 * math.cos(math.pi * k / n) for k in range(n))


class _Sound:
    """The soundtrack of one video: `total` float samples of the style's chord, faded in and out."""

    def __init__(self, style: Style, total: int) -> None:
        self.total = total
        notes = style.frequencies()
        level = 0.5 / len(notes)  # peaks stay below half of full scale
        sin, tile = math.sin, [0.0] * _TILE
        for f in notes:
            step = 2 * math.pi * f / AUDIO_RATE
            tile = list(map(operator.add, tile, [level * sin(step * n) for n in range(_TILE)]))
        self.tile = array("f", tile)
        # Raised-cosine fades, at most a quarter of the clip each: no click at either end.
        attack = min(AUDIO_RATE * 3 // 10, total // 4)
        release = min(AUDIO_RATE // 2, total // 4)
        self.fade_in = _fade(attack)
        self.fade_out = _fade(release)[::-1]

    def samples(self, start: int, stop: int) -> array:
        """Samples [start, stop) of the clip."""
        out = array("f")
        pos = start
        while pos < stop:
            off = pos % _TILE
            n = min(_TILE - off, stop - pos)
            out.extend(self.tile[off : off + n])
            pos += n
        self._shape(out, start, 0, self.fade_in)
        self._shape(out, start, self.total - len(self.fade_out), self.fade_out)
        return out

    @staticmethod
    def _shape(out: array, start: int, at: int, envelope: Sequence[float]) -> None:
        """Multiply the part of `out` (which begins at sample `start`) lying on `envelope`."""
        lo, hi = max(start, at), min(start + len(out), at + len(envelope))
        if lo < hi:
            out[lo - start : hi - start] = array(
                "f", map(operator.mul, out[lo - start : hi - start], envelope[lo - at : hi - at])
            )

    def frame(self, start: int, stop: int) -> av.AudioFrame:
        frame = av.AudioFrame(format="fltp", layout="mono", samples=stop - start)
        frame.planes[0].update(self.samples(start, stop).tobytes())
        frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, start, Fraction(1, AUDIO_RATE)
        return frame


def _to_frame(planes: tuple[list[bytes], ...], width: int, height: int, fmt: str) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, fmt)
    for plane, rows in zip(frame.planes, planes, strict=True):
        pad = bytes(plane.line_size - len(rows[0]))
        plane.update(b"".join(rows) if not pad else pad.join(rows) + pad)
    return frame


def _encode_image(frame: av.VideoFrame, codec: str, pix_fmt: str) -> bytes:
    ctx = av.CodecContext.create(codec, "w")
    ctx.width, ctx.height, ctx.pix_fmt = frame.width, frame.height, pix_fmt
    ctx.time_base = Fraction(1, 1)
    frame.pts = 0
    packets = list(ctx.encode(frame)) + list(ctx.encode(None))
    return b"".join(bytes(p) for p in packets)


def render_video(
    prompt: str,
    *,
    seed: int | None,
    width: int,
    height: int,
    seconds: float,
    out_dir: Path,
    stem: str,
    fps: int = 24,
) -> RenderResult:
    """Render `seconds` of H.264 (yuv420p) and AAC (mono) at `width`x`height` into `out_dir`.

    The mp4 is faststart; its sound lasts exactly as long as its frames (the AAC encoder's priming
    is trimmed by the mp4's edit list).
    """
    style = Style.of(prompt, seed)
    painter = _Painter(width, height, style)
    frames = max(1, round(seconds * fps))
    sound = _Sound(style, round(frames * AUDIO_RATE / fps))
    mp4 = out_dir / f"{stem}.mp4"
    tmp = out_dir / f"{stem}.part.mp4"
    # faststart puts moov before mdat so browsers can play before the whole file arrived.
    with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream(
            "libx264",
            rate=fps,
            # One thread: x264's sliced threads follow the core count, and the bytes with them;
            # the same seed must give the same file on every machine.
            options={"preset": "ultrafast", "tune": "zerolatency", "crf": "28", "threads": "1"},
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        # FFmpeg's own AAC encoder (LC profile); PyAV cuts the frames below into the 1024-sample
        # frames it takes, and the last, short one is allowed (no trailing silence). Its "fast"
        # coder is three times quicker than the default "twoloop" here, and truer on a pure chord.
        audio = container.add_stream(
            "aac", rate=AUDIO_RATE, layout="mono", options={"aac_coder": "fast"}
        )
        audio.bit_rate = AUDIO_BIT_RATE
        tb = Fraction(1, fps)
        for i in range(frames):
            frame = _to_frame(painter.planes(i / fps, seconds), width, height, "yuv420p")
            frame.pts, frame.time_base = i, tb
            container.mux(stream.encode(frame))
            # The sound of the same frame, so the muxer interleaves them as it goes.
            start, stop = round(i * AUDIO_RATE / fps), round((i + 1) * AUDIO_RATE / fps)
            container.mux(audio.encode(sound.frame(start, stop)))
        container.mux(stream.encode(None))
        container.mux(audio.encode(None))
    tmp.replace(mp4)

    first = _to_frame(painter.planes(0.0, seconds), width, height, "yuv420p")
    thumbnail = out_dir / f"{stem}.webp"
    thumbnail.write_bytes(_encode_image(first, "libwebp", "yuv420p"))

    # Spritesheet: four moments side by side, one JPEG.
    shots = [painter.planes(seconds * k / 4, seconds) for k in range(4)]
    sheet = tuple(
        [b"".join(s[p][r] for s in shots) for r in range(len(shots[0][p]))] for p in range(3)
    )
    spritesheet = out_dir / f"{stem}.jpg"
    spritesheet.write_bytes(
        _encode_image(_to_frame(sheet, width * 4, height, "yuvj420p"), "mjpeg", "yuvj420p")
    )

    gif = out_dir / f"{stem}.gif"
    gif.write_bytes(_render_gif(style, width, height, seconds))
    return RenderResult(mp4, thumbnail, spritesheet, gif, width, height, frames, fps)


def _render_gif(style: Style, width: int, height: int, seconds: float) -> bytes:
    import io

    gw, gh = scaled_size(width, height, 0.5)
    painter = _Painter(gw, gh, style)
    buf = io.BytesIO()
    rate = 4
    with av.open(buf, "w", format="gif") as container:
        stream = container.add_stream("gif", rate=rate)
        stream.width, stream.height, stream.pix_fmt = gw, gh, "rgb8"
        count = max(2, min(40, round(seconds * rate)))
        for i in range(count):
            t = seconds * i / count
            frame = _to_frame(painter.planes(t, seconds), gw, gh, "yuv420p").reformat(format="rgb8")
            frame.pts, frame.time_base = i, Fraction(1, rate)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buf.getvalue()


# --- mp4 padding -------------------------------------------------------------------------------


def free_box_header(padding: int) -> bytes:
    """Header of a top-level `free` box that is exactly `padding` bytes long, header included."""
    if padding < 8:
        raise ValueError("video_padding must be 0 or at least 8 bytes (one mp4 box header)")
    if padding <= 0xFFFFFFFF:
        return struct.pack(">I4s", padding, b"free")
    return struct.pack(">I4sQ", 1, b"free", padding)  # 64-bit "largesize" form


def iter_padded(
    path: Path, padding: int, start: int = 0, end: int | None = None, *, file_chunk: int = CHUNK
) -> Iterator[bytes]:
    """Bytes [start, end) of the file followed by a `free` box of `padding` bytes, in chunks.

    The padding is yielded as slices of one shared zero buffer, so memory stays flat for any size.
    """
    size = path.stat().st_size
    total = size + padding
    end = total if end is None else min(end, total)
    pos = start
    if pos < size:
        with path.open("rb") as f:
            f.seek(pos)
            while pos < min(end, size):
                data = f.read(min(file_chunk, min(end, size) - pos))
                if not data:
                    break
                pos += len(data)
                yield data
    if padding and pos < end:
        header = free_box_header(padding)
        hpos = pos - size
        if hpos < len(header):
            piece = header[hpos : hpos + (end - pos)]
            pos += len(piece)
            yield piece
        view = memoryview(_ZEROS)
        while pos < end:
            n = min(CHUNK, end - pos)
            pos += n
            yield view[:n]


# --- PNG images --------------------------------------------------------------------------------


def png_image(prompt: str, *, seed: int | None, width: int, height: int, index: int = 0) -> bytes:
    """An RGB PNG of the given size: a gradient and a disc whose colours depend on the prompt."""
    style = Style.of(f"{prompt}\x00{index}", seed)
    bg = [int(255 * c) for c in colorsys.hsv_to_rgb(style.hue, 0.55, 0.75)]
    fg = bytes(int(255 * c) for c in colorsys.hsv_to_rgb(style.hue2, 0.85, 0.95))
    cx = int(width * (0.25 + 0.5 * style.phase))
    cy = int(height * (0.3 + 0.4 * style.speed / 0.5))
    radius = int(min(width, height) * style.box)
    rows = []
    for y in range(height):
        shade = 0.6 + 0.4 * y / max(1, height - 1)
        base = bytes(int(c * shade) for c in bg) * width
        dy = y - cy
        if abs(dy) < radius:
            half = int(math.sqrt(radius * radius - dy * dy))
            x0, x1 = max(0, cx - half), min(width, cx + half)
            base = base[: 3 * x0] + fg * (x1 - x0) + base[3 * x1 :]
        rows.append(b"\x00" + base)
    raw = b"".join(rows)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )
