"""``%%sora_batch``: the notebook's face of ``sora_nb.batch`` (which the command line shares).

What the cell shows: one line saying how many paid jobs the batch will create (before anything
is sent), one live output (an overall progress bar, and a line per job in flight) updated in
place at a bounded rate, and at the end the summary table as the cell's result (deterministic:
nbval compares it; the live output goes back to the empty output it started as).
"""

from __future__ import annotations

import html
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from .. import _exceptions as E
from .. import batch as core
from .. import dialects
from ..batch import Batch, BatchError, BatchJob, Item
from ..events import RunEvent
from . import render, runner
from .results import Items
from .sinks import Throttle, pick_mode, ticking

__all__ = ["BatchSummary", "BatchView", "run_cell"]

_FROM = re.compile(
    r"\s*([A-Za-z_]\w*)\s*(?:\.\s*([A-Za-z_]\w*)|\[\s*(['\"]?)(.*?)\3\s*\])?\s*", re.DOTALL
)


class BatchSummary(Items[BatchJob]):
    """A batch's result: one row per prompt (its status, job id, file, error), in input order.

    A sequence of :class:`sora_nb.batch.BatchJob` (``.job``, ``.path``, ``.status``);
    ``.batch`` is the whole :class:`sora_nb.batch.Batch` (``.ok``, ``.failed``)."""

    def __init__(self, batch: Batch, base_dir: Path | None = None) -> None:
        super().__init__(batch.jobs)
        self.batch = batch
        self.base_dir = base_dir

    @property
    def ok(self) -> bool:
        return self.batch.ok

    @property
    def paths(self) -> list[Path]:
        """The files of the items that have one, in input order."""
        return [j.path for j in self if j.path is not None]

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        rows = self.batch.rows(self.base_dir)
        head = self.batch.headline()
        if self.batch.interrupted:
            head += " (interrupted: run the cell again to go on)"
        columns = core.COLUMNS
        body = "".join(
            "<tr>"
            + "".join(f'<td class="sora-nb-{c}">{html.escape(r.get(c, ""))}</td>' for c in columns)
            + "</tr>"
            for r in rows
        )
        header = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        return {
            "text/plain": head + "\n" + core.text_table(rows),
            "text/html": f"<p>{html.escape(head)}</p>"
            f'<table class="sora-nb-batch"><thead><tr>{header}</tr></thead>'
            f"<tbody>{body}</tbody></table>",
        }


class BatchView:
    """One live output for a whole batch: an overall progress bar with counts, and one line per
    job in flight (at most the batch's parallelism, so its size stays bounded however many
    prompts there are). Drawn through one display id at most ``rate`` times a second (a new
    status is drawn at once); in a terminal, one line rewritten in place, and a line for each
    job as it ends."""

    def __init__(
        self, batch: Batch, *, mode: str = "auto", rate: float = 4.0, clock: Any = time.monotonic
    ) -> None:
        self.batch = batch
        self.mode = "text" if pick_mode(mode) == "text" else "html"
        self.throttle = Throttle(1.0 / rate if rate > 0 else 0.0, clock=clock)
        self._clock = clock
        self._start = clock()
        self._statuses: dict[int, str] = {}
        self._said: set[int] = set()
        self.display_id = f"sora-nb-batch-{uuid.uuid4().hex}"
        self.messages = 0
        self.closed = False
        if self.mode == "html":
            self._show(dict(render.EMPTY), first=True)
        self._draw()

    # -- listening ---------------------------------------------------------------------------------

    def __call__(self, job: BatchJob, event: RunEvent | None = None) -> None:
        urgent = self._statuses.get(job.index) != job.status
        self._statuses[job.index] = job.status
        if self.mode == "text" and job.finished and job.index not in self._said:
            self._said.add(job.index)
            self._say(job)
        if self.throttle.due(urgent=urgent):
            self._draw()

    def tick(self) -> None:
        if self.throttle.due():
            self._draw()

    def close(self) -> None:
        """Back to the empty output it started as (the summary is the cell's result)."""
        if self.closed:
            return
        self.closed = True
        if self.mode == "text":
            sys.stdout.write("\r" + self.overall().ljust(78) + "\n")
            sys.stdout.flush()
            return
        self._show(dict(render.EMPTY))

    # -- drawing -----------------------------------------------------------------------------------

    def overall(self) -> str:
        jobs = self.batch.jobs
        finished = sum(1 for j in jobs if j.finished)
        running = sum(1 for j in jobs if not j.finished and j.status != "waiting")
        bad = sum(1 for j in jobs if j.finished and not j.ok)
        parts = [
            f"batch: {finished}/{len(jobs)} finished",
            f"{running} running",
            f"{self.batch.progress():.0f}%",
            f"{render.clock(self._clock() - self._start)} elapsed",
        ]
        if bad:
            parts.insert(2, f"{bad} not done")
        return " · ".join(parts)

    def _in_flight(self) -> list[BatchJob]:
        return [j for j in self.batch.jobs if not j.finished and j.status != "waiting"]

    def _job_line(self, job: BatchJob) -> str:
        return render.status_text(
            f"{job.item.where}: {_short(job.prompt)}", job.status, job.progress, None, None
        )

    def _draw(self) -> None:
        if self.closed:
            return
        self.throttle.sent()
        line = self.overall()
        if self.mode == "text":
            sys.stdout.write("\r" + line.ljust(78))
            sys.stdout.flush()
            self.messages += 1
            return
        flying = self._in_flight()
        lines = [self._job_line(j) for j in flying]
        value = f' value="{self.batch.progress():.1f}"'
        rows = "".join(f"<div>{html.escape(t)}</div>" for t in lines)
        self._show(
            {
                "text/plain": "\n".join([line, *lines]),
                "text/html": (
                    '<div class="sora-nb-batch-status" style="font-family:var(--jp-ui-font-family,'
                    'sans-serif)"><div style="display:flex;gap:.6em;align-items:center">'
                    f'<progress max="100"{value} style="width:14em"></progress>'
                    f"<span>{html.escape(line)}</span></div>"
                    f'<div style="font-size:90%;opacity:.85">{rows}</div></div>'
                ),
            }
        )

    def _say(self, job: BatchJob) -> None:
        detail = job.error or job.note or (core.shown_path(job.path) or "")
        text = render.status_text(
            f"{job.item.where}: {_short(job.prompt)}", job.status, None, None, None
        )
        sys.stdout.write("\r" + (text + (f" · {detail}" if detail else "")).ljust(78) + "\n")
        sys.stdout.flush()

    def _show(self, bundle: dict[str, str], first: bool = False) -> None:
        from IPython.display import display, update_display

        if first:
            display(bundle, raw=True, display_id=self.display_id)
        else:
            update_display(bundle, raw=True, display_id=self.display_id)
        self.messages += 1


def _short(prompt: str, width: int = 40) -> str:
    text = " ".join(prompt.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# -- the cell ------------------------------------------------------------------------------------


def items_from(magics: Any, args: Any, cell: str) -> list[Item]:
    """The prompts: the cell body (one per line), ``--file`` or ``--from``; exactly one."""
    given = [
        name
        for name, there in (
            ("the cell body", cell.strip()),
            ("--file", args.file),
            ("--from", args.source),
        )
        if there
    ]
    if not given:
        raise UsageError(
            "no prompts: write one per line in the cell body, or use --file PATH or --from VARIABLE"
        )
    if len(given) > 1:
        raise UsageError(f"prompts come from one place: {' and '.join(given)} were both given")
    try:
        if args.file:
            items = core.read_items(args.file)
        elif args.source:
            items = _from_variable(magics.shell.user_ns, args.source)
        else:
            # The magic's own line is the cell's line 1: the body starts on line 2.
            items = core.parse_text(cell, "cell", first_line=2)
    except BatchError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    if not items:
        where = args.file or args.source or "the cell body"
        raise UsageError(f"no prompts in {where} (blank lines and # comments are skipped)")
    return items


def _from_variable(namespace: dict[str, Any], expression: str) -> list[Item]:
    """``--from prompts``, ``--from df`` (its prompt column and option columns), ``--from
    df.col`` or ``--from df['col']``. A name and a column are looked up; nothing is evaluated."""
    match = _FROM.fullmatch(expression)
    if match is None:
        raise UsageError(
            f"--from {expression!r}: give a variable (a list of prompts or a DataFrame), "
            "df.column or df['column']"
        )
    name, attribute, _, key = match.groups()
    if name not in namespace:
        raise UsageError(f"--from {name}: no variable of that name in the notebook")
    value = namespace[name]
    column = attribute if attribute is not None else key
    source = expression.strip()
    if column is not None:
        try:
            value = value[column]
        except (KeyError, TypeError, IndexError):
            if attribute is None or not hasattr(value, attribute):
                raise UsageError(f"--from {source}: {name} has no column {column!r}") from None
            value = getattr(value, attribute)
    if hasattr(value, "columns") and hasattr(value, "to_dict"):
        return core.from_frame(value, source)
    if isinstance(value, str | bytes):
        raise UsageError(
            f"--from {source} is one piece of text, not a list of prompts: put it in the cell "
            "body, or give a list"
        )
    if hasattr(value, "tolist") and hasattr(value, "index"):  # a pandas Series
        return core.from_values(value.tolist(), source, labels=list(value.index))
    if isinstance(value, list | tuple):
        return core.from_values(value, source)
    raise UsageError(
        f"--from {source} is a {type(value).__name__}: give a list of prompts, a DataFrame with "
        "a 'prompt' column, or one of its columns"
    )


def check_options(args: Any) -> None:
    if not 1 <= args.parallel <= core.MAX_PARALLEL:
        raise UsageError(f"--parallel takes 1 to {core.MAX_PARALLEL}, not {args.parallel}")
    if args.max_jobs is not None and args.max_jobs < 0:
        raise UsageError(f"--max-jobs must be 0 (no cap) or more, not {args.max_jobs}")
    if args.timeout is not None and not args.timeout > 0:
        raise UsageError(f"--timeout must be a positive number of seconds, not {args.timeout}")
    if args.name is not None and not args.name.isidentifier():
        raise UsageError(f"--name {args.name!r} is not a valid variable name")


def run_cell(magics: Any, args: Any, cell: str | None) -> BatchSummary | None:
    """The whole of a ``%%sora_batch`` cell, after its options are read. ``magics``: the
    loaded ``SoraMagics`` (settings, session, client, the user's namespace). A mistake is a
    UsageError before anything is sent; a SoraError that stops the whole batch goes to the
    magic, which shows it as one line."""
    check_options(args)
    items = items_from(magics, args, cell or "")
    settings = magics.settings()
    client = magics.client(settings)  # one line now, in the cell, if no gateway is configured
    try:
        family = dialects.get(args.dialect or client.dialect)
    except E.SoraError as exc:
        raise UsageError(str(exc)) from None
    # The settings' defaults apply only where the family takes options (as for %%sora_video).
    takes = family.abilities.options
    defaults = {
        "model": args.model or settings.model,
        "orientation": args.orientation or (settings.orientation if takes else None),
        "size": args.size or (settings.size if takes else None),
        "duration": args.duration
        if args.duration is not None
        else (settings.duration if takes else None),
    }
    out_dir = Path(args.out or settings.out_dir)
    timeout = args.timeout if args.timeout is not None else settings.timeout
    try:
        batch = core.plan(
            items,
            client,
            defaults=defaults,
            dialect=family.name,
            timeout=timeout,
            out_dir=out_dir,
            retry_failed=args.retry_failed,
            retry_unknown=args.retry_unknown,
            dry_run=args.dry_run,
        )
        if args.max_jobs is not None:
            batch.check_cap(args.max_jobs)
        else:
            batch.check_cap(magics.max_jobs_per_cell, source="SoraMagics.max_jobs_per_cell")
    except E.ValidationError as exc:
        raise UsageError(str(exc)) from None
    for note in batch.notes:
        print(f"sora_nb: note: {note}")
    print(batch.line())
    summary = BatchSummary(batch, base_dir=Path.cwd())
    if args.dry_run:
        return _keep(magics, summary, args.name)
    view = BatchView(batch, mode=settings.progress, rate=settings.update_rate)

    async def go() -> None:
        async with magics.session.lease(settings) as leased, ticking(view):  # type: ignore[arg-type]
            await core.run(
                batch,
                leased,
                out_dir=out_dir,
                parallel=args.parallel,
                timeout=timeout,
                listener=view,
            )

    try:
        runner.run(go())
    except KeyboardInterrupt:
        view.close()
        print(
            "Interrupted: the jobs already submitted are in the journal; run the cell again to "
            "resume them (none is created twice)."
        )
        return _keep(magics, summary, args.name)
    except BaseException:
        view.close()
        raise  # a gateway's refusal of the whole batch: the magic shows it as one line
    view.close()
    return _keep(magics, summary, args.name)


def _keep(magics: Any, summary: BatchSummary, name: str | None) -> BatchSummary:
    if name:
        magics.shell.user_ns[name] = summary
    return summary


def paid_line(count: int) -> str:
    """What ``%%sora_video -n N`` says before it sends anything."""
    return f"sora_nb: this cell will create {count} paid jobs"
