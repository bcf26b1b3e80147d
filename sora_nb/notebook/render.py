"""Mime bundles for what sora_nb shows: status lines, videos, grids, chat text, job tables.

Pure functions of their inputs (no IPython), so outputs are deterministic and testable. Every
string that came from a gateway is escaped: a hostile relay cannot inject script through a job
id, a link or chat text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, urlsplit

from .. import dialects
from .._exceptions import PollTimeout, SoraError
from ..events import is_local
from ..journal import Entry
from ..models import Job

Bundle = dict[str, str]
EMPTY: Bundle = {"text/plain": "", "text/html": ""}

_ICONS = {
    "queued": "⏳",
    "in_progress": "🎬",
    "completed": "✅",
    "failed": "❌",
    "cancelled": "⏹",
    "submitting": "📤",
    "interrupted": "⏸",
}


def output(bundle: Bundle) -> dict[str, object]:
    """A bundle as an output of an ipywidgets ``Output`` (``out.outputs = (output(b),)``)."""
    return {"output_type": "display_data", "data": bundle, "metadata": {}}


def error_line(exc: BaseException, *, named: bool = False) -> str:
    """The one line a user sees for a failure, wherever it shows (cell, background, panel).

    sora_nb's own errors are already one line in the gateway's words; a timeout says how to
    pick the job up again. ``named`` puts the error's class first (where no traceback header
    names it: the panel, a background job's output); anything that is not a sora_nb error (a
    bug, a full disk) is always named, so it can be told apart from a gateway's answer.
    """
    line = " ".join(str(exc).split())
    if isinstance(exc, PollTimeout):
        line = f"{line.split(';')[0]}; it may still finish: %sora_jobs --resume {exc.job_id}"
    if named or not isinstance(exc, SoraError):
        return f"{type(exc).__name__}: {line}" if line else type(exc).__name__
    return line or type(exc).__name__


def interrupted_line(jobs: Sequence[Job]) -> str:
    """What an interrupted cell says about each job it had started, and how to pick it up."""
    if not jobs:
        return "Interrupted before anything was sent; nothing was submitted."
    parts = []
    for job in jobs:
        if is_local(job.id):
            parts.append(
                "the create was sent but its answer had not come, so the gateway may have made "
                f"(and billed) the job: it is in the journal as {job.id} (status submitting); "
                "%sora_jobs --refresh looks for it where the gateway lists jobs, else check "
                "the gateway's own job list"
            )
        elif _pollable(job):
            parts.append(
                f"the job {job.id} may still be running on the gateway and is in the journal: "
                f"%sora_jobs --resume {job.id} finishes it"
            )
        else:
            parts.append(
                f"the job {job.id} may still be running on the gateway and is in the journal, "
                "but its stream was the only way to follow it (this gateway family has no "
                "status route), so it cannot be resumed from here"
            )
    return "Interrupted: " + "; ".join(parts) + "."


def _pollable(job: Job) -> bool:
    return job.dialect in dialects.names() and dialects.get(job.dialect).abilities.poll


def error_bundle(exc: BaseException) -> Bundle:
    """:func:`error_line` as an output (background jobs, whose cell has finished)."""
    line = error_line(exc, named=True)
    return {
        "text/plain": line,
        "text/html": f'<pre class="sora-nb-error">{html.escape(line)}</pre>',
    }


def safe_url(url: str | None) -> str | None:
    """``url`` if it is http(s), else None: no ``javascript:`` or ``data:`` links from gateways."""
    if not url or not isinstance(url, str):
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def status_text(
    label: str, status: str, progress: float | None, elapsed: float | None, remaining: float | None
) -> str:
    parts = [f"{_ICONS.get(status, '•')} {label}", status.replace("_", " ")]
    if progress is not None:
        parts.append(f"{progress:.0f}%")
    if elapsed is not None:
        parts.append(f"{clock(elapsed)} elapsed")
    if remaining is not None and status in ("queued", "in_progress"):
        parts.append(f"~{clock(remaining)} left")
    return " · ".join(parts)


def status_bundle(
    label: str,
    status: str,
    progress: float | None,
    elapsed: float | None,
    remaining: float | None,
    detail: str | None = None,
) -> Bundle:
    text = status_text(label, status, progress, elapsed, remaining)
    if detail:
        text += f" · {detail}"
    value = "" if progress is None else f' value="{progress:.1f}"'
    return {
        "text/plain": text,
        "text/html": (
            '<div class="sora-nb-status" style="display:flex;gap:.6em;align-items:center;'
            'font-family:var(--jp-ui-font-family,sans-serif)">'
            f'<progress max="100"{value} style="width:14em"></progress>'
            f"<span>{html.escape(text)}</span></div>"
        ),
    }


def media_src(path: str | Path, base: str | Path | None = None) -> str:
    """A relative, URL-quoted ``src`` for a local file (relative to ``base``, the notebook's
    folder), so the notebook stays small and the link survives moving the folder."""
    p = Path(path)
    if base is not None:
        try:
            p = p.resolve().relative_to(Path(base).resolve())
        except ValueError:
            p = Path(path)
    return quote(p.as_posix())


def caption(job: Job) -> str:
    parts = [job.model or "video"]
    if job.seconds:
        parts.append(f"{job.seconds:g} s")
    if job.width and job.height:
        parts.append(f"{job.width}x{job.height}")
    parts.append(job.id)
    return " · ".join(parts)


def video_bundle(
    job: Job,
    *,
    src: str | None,
    embedded: str | None = None,
    path: str | None = None,
    width: int = 480,
) -> Bundle:
    """A playable ``<video>``: ``src`` (a relative path or an http(s) link) or inline base64."""
    cap = caption(job)
    source = f"data:video/mp4;base64,{embedded}" if embedded is not None else src or ""
    plain = f"Video: {path or src or '(embedded)'} ({cap})"
    if not source:
        return {
            "text/plain": f"{cap}: no playable video",
            "text/html": f"<p>{html.escape(cap)}: no playable video</p>",
        }
    return {
        "text/plain": plain,
        "text/html": (
            f'<figure class="sora-nb-video" style="margin:0">'
            f'<video src="{html.escape(source, quote=True)}" controls playsinline '
            f'preload="metadata" style="max-width:{int(width)}px;width:100%"></video>'
            f'<figcaption style="font-size:85%;opacity:.8">{html.escape(cap)}</figcaption>'
            f"</figure>"
        ),
    }


def fallback_html(job: Job, name: str) -> str:
    """What viewers without widgets (nbconvert's HTML, GitHub) show for a video that played in a
    widget: its caption, the file's name, and the gateway's link (signed links expire)."""
    cap = html.escape(caption(job))
    parts = [f"<strong>{cap}</strong>", f"played in a live widget; the file: {html.escape(name)}"]
    url = safe_url(job.video_url)
    if url:
        parts.append(
            f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener">the '
            "gateway's link</a> (it may have expired)"
        )
    return f'<p class="sora-nb-video-fallback">{" · ".join(parts)}</p>'


def grid_bundle(items: Sequence[Bundle], *, columns: int = 2) -> Bundle:
    cells = "".join(f"<div>{b['text/html']}</div>" for b in items)
    return {
        "text/plain": "\n".join(b["text/plain"] for b in items),
        "text/html": (
            f'<div class="sora-nb-grid" style="display:grid;gap:8px;'
            f'grid-template-columns:repeat({max(1, int(columns))},minmax(0,1fr))">{cells}</div>'
        ),
    }


# Link and image targets: inline ``](target`` (spaces and one line break may come first), and
# reference definitions ``[label]: target`` (which ``[text][label]`` and ``![alt][label]`` use),
# found anywhere, not only at a line's start: inside quotes (``> [r]: …``) and lists too.
_MD_LINK_TARGET = re.compile(r"\]\(\s*<?((?:[^()\s>]|\([^()\s>]*\))*)")  # "(1)" inside too
_MD_REFERENCE_TARGET = re.compile(r"\]:[ \t]*(?:\r?\n[ \t]*)?(\S+)")
_MD_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")  # a Markdown backslash escape: \: is ":"
_URL_IGNORED = re.compile(r"[\t\n\r]")  # browsers drop these anywhere in a URL
_URL_LEADING = "".join(map(chr, range(0x21))) + "<"  # …and C0 controls and spaces in front
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_SAFE_SCHEMES = ("http", "https", "mailto")


def _scheme(target: str) -> str | None:
    """The scheme a browser would see in ``target``, however it is disguised: character
    references (``javascript&#58;``, ``&#106;avascript:``, ``java&#x73;cript:``, also twice over
    as ``&amp;#58;``), Markdown escapes (``javascript\\:``), tabs and line breaks inside
    (``jav&Tab;ascript:``), leading spaces and control characters, any case."""
    url = target
    for _ in range(8):
        decoded = html.unescape(_MD_ESCAPED.sub(r"\1", url))
        if decoded == url:
            break
        url = decoded
    match = _SCHEME.match(_URL_IGNORED.sub("", url).lstrip(_URL_LEADING))
    return match.group(1).lower() if match else None


def _unsafe(target: str) -> bool:
    scheme = _scheme(target)
    return scheme is not None and scheme not in _SAFE_SCHEMES


def safe_markdown(text: str) -> str:
    """Gateway text as Markdown that cannot carry script.

    Raw HTML is escaped (``<script>``, ``<img onerror=…>`` show as text; so are autolinks such
    as ``<javascript:…>``), and link or image targets, inline or in reference definitions, whose
    scheme is not http(s) or mailto are cut; relative links and anchors stay.
    """
    # Escaping '<' is enough to stop every tag; '>' stays so Markdown quotes still render.
    escaped = text.replace("&", "&amp;").replace("<", "&lt;")

    def fix_inline(match: re.Match[str]) -> str:
        return "](#unsafe-link-removed" if _unsafe(match.group(1)) else match.group(0)

    def fix_reference(match: re.Match[str]) -> str:
        return "]: #unsafe-link-removed" if _unsafe(match.group(1)) else match.group(0)

    escaped = _MD_LINK_TARGET.sub(fix_inline, escaped)
    return _MD_REFERENCE_TARGET.sub(fix_reference, escaped)


def markdown_bundle(text: str) -> Bundle:
    return {"text/plain": text, "text/markdown": safe_markdown(text)}


def _when(ts: float | None) -> str:
    if not ts:
        return ""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def jobs_table(rows: Sequence[dict[str, object]]) -> Bundle:
    """The journal as a table: text for terminals, HTML for notebooks."""
    columns = ["id", "status", "progress", "model", "prompt", "file", "created (UTC)"]
    if not rows:
        return {
            "text/plain": "No jobs in the journal yet.",
            "text/html": "<p>No jobs in the journal yet.</p>",
        }
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    plain = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=False))]
    plain += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)) for row in cells]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in cells
    )
    return {
        "text/plain": "\n".join(line.rstrip() for line in plain),
        "text/html": f'<table class="sora-nb-jobs"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>",
    }


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.0f}%"
    text = str(value).replace("\n", " ")
    return text if len(text) <= 48 else text[:47] + "…"


def shown_path(path: str | None, base: str | Path | None = None) -> str | None:
    """A saved file as a reader wants it: relative to the notebook's folder when it is inside,
    else its name only (the journal keeps absolute paths; a saved notebook should not)."""
    if not path:
        return None
    p = Path(path)
    try:
        return p.relative_to(Path(base or Path.cwd()).resolve()).as_posix()
    except ValueError:
        return p.name


def entry_row(e: Entry) -> dict[str, object]:
    """A journal entry as a table row."""
    return {
        "id": e.id,
        "status": e.status,
        "progress": e.progress,
        "model": e.model,
        "prompt": e.prompt,
        "file": shown_path(e.path),
        "created (UTC)": _when(e.created_at),
    }
