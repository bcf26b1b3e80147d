"""What a cell hands back: Jobs and replies that also know how to show themselves.

A ``%%sora_video`` cell's result *is* a :class:`sora_nb.Job` (``VideoJob`` adds where the file
is), so ``job = _`` or ``--name job`` gives the user the real thing, and its display is the
video. Displays are deterministic (no times), so saved notebooks compare equal on re-runs.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..journal import Entry
from ..models import ChatEvent, ImageResult, Job
from . import render

T = TypeVar("T")


@dataclass(frozen=True)
class VideoJob(Job):
    """A finished Job and how it is shown: a local file (default), embedded, or a link."""

    path: Path | None = None
    show: str = "file"  # file | embed | link
    base_dir: Path | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, job: Job, **kw: Any) -> VideoJob:
        return cls(**{**{f: getattr(job, f) for f in job.__dataclass_fields__}, **kw})

    def bundle(self) -> dict[str, str]:
        if self.show == "embed" and self.path is not None:
            data = base64.b64encode(Path(self.path).read_bytes()).decode("ascii")
            return render.video_bundle(self, src=None, embedded=data, path=self.path.name)
        if self.show == "link" or self.path is None:
            url = render.safe_url(self.video_url)
            return render.video_bundle(self, src=url, path=None)
        src = render.media_src(self.path, self.base_dir)
        return render.video_bundle(self, src=src, path=src)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return self.bundle()


class Items(Sequence[T]):
    """A read-only sequence that shows itself through ``_repr_mimebundle_``.

    (IPython's pretty printer would take over for a ``list`` subclass.)
    """

    def __init__(self, items: Iterable[T]) -> None:
        self._items = list(items)

    def __getitem__(self, index: Any) -> Any:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"


class VideoGrid(Items[VideoJob]):
    """Several variants of one prompt, shown side by side: a sequence of VideoJob."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return render.grid_bundle([v.bundle() for v in self], columns=min(len(self), 3) or 1)


@dataclass(frozen=True)
class ChatReply:
    """A chat answer: its text (rendered as Markdown), and the video it made, if any."""

    text: str
    event: ChatEvent | None = field(default=None, repr=False)
    video: VideoJob | None = None

    def __str__(self) -> str:
        return self.text

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return render.markdown_bundle(self.text)


class ImageSet(Items[tuple[ImageResult, "Path | None"]]):
    """Generated images, each with the file it was saved to."""

    def __init__(
        self, items: Iterable[tuple[ImageResult, Path | None]], base_dir: Path | None = None
    ) -> None:
        super().__init__(items)
        self.base_dir = base_dir

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        import html

        cells, lines = [], []
        for result, path in self:
            src = render.media_src(path, self.base_dir) if path else render.safe_url(result.url)
            note = result.revised_prompt or ""
            lines.append(f"Image: {src or '(none)'}" + (f" ({note})" if note else ""))
            if src:
                cells.append(
                    f'<figure style="margin:0"><img src="{html.escape(src, quote=True)}" '
                    f'style="max-width:100%"><figcaption style="font-size:85%">'
                    f"{html.escape(note)}</figcaption></figure>"
                )
        return {
            "text/plain": "\n".join(lines),
            "text/html": '<div style="display:grid;gap:8px;grid-template-columns:'
            f'repeat({min(len(cells), 3) or 1},minmax(0,1fr))">{"".join(cells)}</div>',
        }


class ConfigView:
    """``%sora_config``'s answer: every setting, the key redacted (it is a Secret)."""

    def __init__(self, rows: Iterable[tuple[str, Any]]) -> None:
        self.rows = list(rows)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        width = max(len(n) for n, _ in self.rows)
        plain = "\n".join(f"{n.ljust(width)}  {v}" for n, v in self.rows)
        body = "".join(
            f"<tr><td>{html.escape(n)}</td><td>{html.escape(str(v))}</td></tr>"
            for n, v in self.rows
        )
        return {"text/plain": plain, "text/html": f"<table>{body}</table>"}


class JobsTable(Items[Entry]):
    """``%sora_jobs``'s answer: journal entries, shown as a table."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return render.jobs_table([render.entry_row(e) for e in self])
