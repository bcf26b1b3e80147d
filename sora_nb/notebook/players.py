"""Videos carried to the browser over the widget comm: an ipywidgets ``Video`` holds the file's
bytes and its view plays them from a blob URL, so no file route is needed (remote kernels, a
folder outside the server's root, VS Code).

The bytes travel once, as a binary buffer of the widget's state (no base64), and stay in the
kernel while the widget lives: one widget per file, reused when the same video is shown again.
The output also carries a ``text/html`` fallback for viewers without a widget manager
(nbconvert's HTML, GitHub): the caption, where the file is, and the gateway's link.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import render

if TYPE_CHECKING:
    from ..models import Job

Bundle = dict[str, Any]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# (resolved path, size, mtime) → the widget showing that file.
_PLAYERS: dict[tuple[str, int, int], Any] = {}


def available() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def player(job: Job, path: Path, *, width: int = 480) -> Any:
    """A widget playing ``path`` with ``job``'s caption under it (one per file)."""
    import ipywidgets as w

    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    box = _PLAYERS.get(key)
    if box is not None and box.comm is not None:
        return box
    video = w.Video(
        value=path.read_bytes(),
        format=_format(path),
        # Sora's videos have sound: never muted, never started without the user (ipywidgets'
        # own defaults are autoplay=True and loop=True).
        autoplay=False,
        loop=False,
        controls=True,
        layout=w.Layout(width="100%", max_width=f"{int(width)}px"),
    )
    video.add_class("sora-nb-video")
    caption = w.HTML(
        f'<span style="font-size:85%;opacity:.8">{html.escape(render.caption(job))}</span>'
    )
    box = w.VBox([video, caption])
    _PLAYERS[key] = box
    return box


def close_all() -> None:
    """Close every player (their bytes leave the kernel and the front end)."""
    for box in _PLAYERS.values():
        box.close()
    _PLAYERS.clear()


def _format(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    return {"mov": "quicktime", "m4v": "mp4"}.get(suffix, suffix or "mp4")


def bundle(widget: Any, plain: str, fallback: str) -> Bundle:
    """``widget``'s view, with our text and an HTML fallback for viewers without widgets."""
    data = dict(widget._repr_mimebundle_())
    return {WIDGET_VIEW: data[WIDGET_VIEW], "text/plain": plain, "text/html": fallback}


def video_bundle(job: Job, path: Path, *, width: int = 480) -> Bundle:
    cap = render.caption(job)
    return bundle(
        player(job, path, width=width),
        f"Video: {path.name} ({cap})",
        render.fallback_html(job, path.name),
    )


def grid_bundle(items: Sequence[tuple[Job, Path]], *, columns: int) -> Bundle:
    import ipywidgets as w

    cells = [player(job, path) for job, path in items]
    grid = w.GridBox(
        cells,
        layout=w.Layout(
            grid_template_columns=f"repeat({max(1, columns)}, minmax(0, 1fr))", grid_gap="8px"
        ),
    )
    fallbacks = [{"text/plain": "", "text/html": render.fallback_html(j, p.name)} for j, p in items]
    fallback = render.grid_bundle(fallbacks, columns=columns)["text/html"]
    plain = "\n".join(f"Video: {path.name} ({render.caption(job)})" for job, path in items)
    return bundle(grid, plain, fallback)
