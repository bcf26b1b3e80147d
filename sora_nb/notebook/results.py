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
from urllib.parse import quote

from ..journal import Entry
from ..models import ChatEvent, ImageResult, Job
from . import frontend, players, render

T = TypeVar("T")


@dataclass(frozen=True)
class VideoJob(Job):
    """A finished Job and how it is shown (``show``: see :mod:`sora_nb.notebook.frontend`)."""

    path: Path | None = None
    show: str = "auto"  # auto | file | widget | embed | link
    base_dir: Path | None = field(default=None, repr=False, compare=False)
    embed_limit: int = field(default=frontend.EMBED_LIMIT, repr=False, compare=False)

    @classmethod
    def of(cls, job: Job, **kw: Any) -> VideoJob:
        return cls(**{**{f: getattr(job, f) for f in job.__dataclass_fields__}, **kw})

    def mode(self) -> str:
        """How this video shows here: ``file``, ``widget``, ``embed`` or ``link``."""
        path = self.path if self.path is not None and Path(self.path).is_file() else None
        return frontend.choose(
            self.show,
            frontend.current(),
            path,
            path.stat().st_size if path is not None else None,
            widgets_available=players.available(),
            embed_limit=self.embed_limit,
        )

    def bundle(self, mode: str | None = None) -> dict[str, Any]:
        mode = mode or self.mode()
        if mode == "link" or self.path is None:
            url = render.safe_url(self.video_url)
            return render.video_bundle(self, src=url, path=None)
        path = Path(self.path)
        if mode == "widget":
            return players.video_bundle(self, path)
        if mode == "embed":
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            return render.video_bundle(self, src=None, embedded=data, path=path.name)
        src = frontend.relative_src(path, frontend.current(), self.base_dir)
        src = quote(src) if src is not None else render.media_src(path, self.base_dir)
        return render.video_bundle(self, src=src, path=src)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
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

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        columns = min(len(self), 3) or 1
        modes = [v.mode() for v in self]
        if "widget" in modes:  # one grid of players: an HTML grid cannot hold widget views
            return players.grid_bundle(
                [(v, Path(v.path)) for v in self if v.path is not None], columns=columns
            )
        return render.grid_bundle(
            [v.bundle(m) for v, m in zip(self, modes, strict=True)], columns=columns
        )


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
