"""Local files: reference images read (and checked) once, and names for downloaded videos.

Reading a reference image is the one piece of I/O below the client: it happens when a request is
prepared (``runs.prepare``), so a bad file is one line before anything is sent.
"""

from __future__ import annotations

import filecmp
import os
import re
import uuid
from collections.abc import Iterable
from pathlib import Path

from . import _exceptions as E
from .dialects import ImageFile, ImageRef

__all__ = [
    "MAX_IMAGE_BYTES",
    "image_list",
    "load_image",
    "media_kind",
    "safe_filename",
    "settle",
    "temp_name",
]

MAX_IMAGE_BYTES = 50 << 20
_IMAGE_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _image_mime(data: bytes) -> str | None:
    for magic, mime in _IMAGE_MAGIC.items():
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def load_image(ref: str | os.PathLike[str]) -> ImageRef:
    """A reference image: URLs pass as they are, local files are read and checked to be images."""
    text = os.fspath(ref)
    if text.startswith(("http://", "https://", "data:image/")):
        return text
    if "://" in text:
        raise E.ValidationError(f"reference image {text!r}: only http(s) URLs or local files")
    path = Path(text).expanduser()
    if not path.is_file():
        raise E.ValidationError(f"reference image {text!r} is neither an http(s) URL nor a file")
    size = path.stat().st_size
    if size > MAX_IMAGE_BYTES:
        raise E.ValidationError(f"reference image {text!r} is {size >> 20} MiB; the limit is 50")
    data = path.read_bytes()
    mime = _image_mime(data)
    if mime is None:
        raise E.ValidationError(f"reference image {text!r} is not a PNG, JPEG, WebP or GIF image")
    return ImageFile(name=path.name, data=data, mime=mime)


def image_list(images: Iterable[str | os.PathLike[str]] | str | None) -> tuple[str, ...]:
    """``images`` as a tuple: one URL or path given alone is one image, not its characters."""
    if images is None:
        return ()
    if isinstance(images, str | os.PathLike):
        return (os.fspath(images),)
    return tuple(os.fspath(i) for i in images)


def safe_filename(name: str, default: str = "video") -> str:
    """A file name from an id: no separators, no leading dots, bounded length."""
    cleaned = _SAFE_NAME.sub("_", name).strip("._-")[:120]
    return cleaned or default


def temp_name(target: Path) -> Path:
    """Where a download is written until it is complete (then renamed to ``target``)."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")


def settle(tmp: Path, target: Path) -> Path:
    """Put a finished download in place without overwriting a different file: the same bytes
    keep ``target`` (a re-run of a deterministic notebook keeps its names); other bytes get
    ``name-2.mp4``, ``name-3.mp4``… (two ids that differ only past the 120 characters a name
    keeps, or an earlier session's file). Returns where the file is."""
    candidate, n = target, 1
    while True:
        try:
            os.link(tmp, candidate)  # atomic, and never replaces an existing file
        except FileExistsError:
            if filecmp.cmp(candidate, tmp, shallow=False):
                tmp.unlink(missing_ok=True)
                return candidate
            n += 1
            candidate = target.with_name(f"{target.stem}-{n}{target.suffix}")
            continue
        except OSError:  # a file system without hard links
            if candidate.exists() and not filecmp.cmp(candidate, tmp, shallow=False):
                n += 1
                candidate = target.with_name(f"{target.stem}-{n}{target.suffix}")
                continue
            os.replace(tmp, candidate)
            return candidate
        tmp.unlink(missing_ok=True)
        return candidate


def media_kind(head: bytes) -> str | None:
    """What a file's first bytes (16 are enough) say it is: ``"mp4"`` (ISO base media: mp4,
    mov, m4v, 3gp all start with a box whose type is ``ftyp``, or with ``moov``/``mdat``/
    ``free``/``wide`` boxes in older QuickTime files), ``"webm"`` (an EBML header), or None.
    An HTML error page or a JSON document is None."""
    if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    return None
