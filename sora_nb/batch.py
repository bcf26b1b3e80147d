"""Batches: many prompts, one paid video each, made idempotently. ``%%sora_batch`` and the
``sora-nb batch`` command line share this module; neither needs IPython.

A batch goes in three steps, and nothing is sent before the third:

1. **Read** the prompts (``sora_nb.prompts``, re-exported here: :func:`parse_text`,
   :func:`parse_csv`, :func:`parse_jsonl`, :func:`read_items`, :func:`from_values`,
   :func:`from_frame`): each becomes an :class:`Item` (a prompt, its own options, and where it
   came from, so a mistake names its line).
2. **Plan** (:func:`plan`): each item is prepared through the client (``ClientCore.prepare``:
   the model rules, the family's words, checked once, as for any video) and given an
   idempotency key, a hash of the gateway's base URL, the request family, the model, the prompt
   and the normalised options (never the API key). The journal is the only state: every job a
   batch creates carries its key in its row (``Entry.batch_key``), so the plan knows, item by
   item, what a run of the same batch did before:

   - a completed job whose file is on disk: **done**, nothing is sent;
   - a job submitted and not finished (or completed, its file missing): **resumed**, by its id
     (polled, downloaded), never created again;
   - a create whose answer never came (a local id: the gateway may have made and billed it):
     looked for where the gateway lists jobs (as ``%sora_jobs --refresh`` does) and resumed if
     found; else left **unknown**, not created again unless asked (``retry_unknown``);
   - a job the gateway failed: reported, created again only with ``retry_failed``;
   - none: **created**. Lines with the same key share one job.

   The plan says how many paid jobs it will create (:meth:`Batch.line`), and a cap
   (:meth:`Batch.check_cap`) refuses a batch that would create more, before anything is sent.
3. **Run** (:func:`run`): at most ``parallel`` items at once, each through the one video
   lifecycle (``client.run_video``); pacing of requests is the client's. One item failing does
   not stop the others; an interrupt leaves every submitted job resumable by running the same
   batch again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _exceptions as E
from . import dialects
from .config import DEFAULT_MAX_JOBS, DEFAULT_PARALLEL
from .events import Failed, Finished, Progressed, RunEvent, Saved, Submitted, Submitting, is_local
from .journal import BATCH_KEY, Entry
from .models import Job
from .prompts import (
    FORMATS,
    OPTIONS,
    BatchError,
    Item,
    format_of,
    from_frame,
    from_values,
    parse_csv,
    parse_jsonl,
    parse_text,
    read_items,
)
from .recovery import find_lost
from .runs import PreparedVideo

if TYPE_CHECKING:
    from .client import AsyncClient
    from .plans import ClientCore

__all__ = [
    "DEFAULT_MAX_JOBS",
    "DEFAULT_PARALLEL",
    "FORMATS",
    "MAX_PARALLEL",
    "OPTIONS",
    "Batch",
    "BatchError",
    "BatchJob",
    "Item",
    "format_of",
    "from_frame",
    "from_values",
    "item_key",
    "parse_csv",
    "parse_jsonl",
    "parse_text",
    "plan",
    "read_items",
    "run",
]

MAX_PARALLEL = 32
_KEY_VERSION = 1


# -- planning -----------------------------------------------------------------------------------

CREATE, DONE, RESUME, UNKNOWN, FAILED, DUPLICATE = (
    "create",
    "done",
    "resume",
    "unknown",
    "failed before",
    "duplicate",
)
# Final statuses of a run that need nothing more.
_OK = ("done", "completed", "duplicate")
# Statuses of an item not finished yet.
_IN_FLIGHT = ("waiting", "looking", "submitting", "queued", "in_progress", "downloading")


@dataclass(frozen=True)
class BatchVideo(PreparedVideo):
    """A prepared video that belongs to a batch: its journal row carries the item's key from
    the first write (the one made before the create goes out)."""

    batch_key: str = ""

    @property
    def params(self) -> dict[str, Any]:
        return {**super().params, BATCH_KEY: self.batch_key}


def item_key(base_url: str, prepared: PreparedVideo) -> str:
    """The item's idempotency key: a hash of the gateway's base URL, the request family, the
    model, the prompt and the options as they will be sent (defaults filled in, sizes in the
    family's words), so ``10`` and ``10.0`` seconds, or a default given or left out, are the
    same job. Never the API key."""
    r = prepared.request
    duration = r.duration
    if isinstance(duration, int | float) and float(duration).is_integer():
        duration = int(duration)
    payload = {
        "v": _KEY_VERSION,
        "gateway": base_url,
        "dialect": prepared.dialect.name,
        "model": r.model,
        "prompt": r.prompt,
        "orientation": r.orientation,
        "size": r.size,
        "duration": duration,
        "images": list(r.images),
        "extra": dict(r.extra),
    }
    text = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return f"b{_KEY_VERSION}-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass
class BatchJob:
    """One item of a batch: what the plan decided, then what happened to it."""

    index: int
    item: Item
    key: str
    prepared: BatchVideo
    action: str  # create, done, resume, unknown, failed before, duplicate
    entry: Entry | None = None  # the journal row it continues or reports
    same_as: int | None = None  # a duplicate: the index of the first item with its key
    status: str = "waiting"
    job: Job | None = None
    progress: float | None = None
    path: Path | None = None
    error: str | None = None
    note: str | None = None

    @property
    def prompt(self) -> str:
        return self.item.prompt

    @property
    def job_id(self) -> str | None:
        if self.job is not None and self.job.id:
            return self.job.id
        return self.entry.id if self.entry is not None else None

    @property
    def finished(self) -> bool:
        return self.status not in _IN_FLIGHT

    @property
    def ok(self) -> bool:
        return self.status in _OK

    def fraction(self) -> float:
        """How far along, 0..1, for an overall progress bar."""
        if self.finished:
            return 1.0
        if self.status == "downloading":
            return 0.99
        return (self.progress or 0.0) / 100.0


@dataclass
class Batch:
    """A planned batch and, once run, what happened to each item (``jobs``, in input order)."""

    base_url: str
    jobs: list[BatchJob]
    notes: list[str] = field(default_factory=list)  # model-rule notes, one line each
    dry_run: bool = False
    interrupted: bool = False

    def count(self, action: str) -> int:
        return sum(1 for j in self.jobs if j.action == action)

    @property
    def creates(self) -> int:
        """Paid jobs the run will create."""
        return self.count(CREATE)

    def line(self) -> str:
        """``sora_nb: this batch will create N paid jobs (M already done, K resumed)``."""
        n = self.creates
        head = (
            "sora_nb: dry run: this batch would create"
            if self.dry_run
            else ("sora_nb: this batch will create")
        )
        text = (
            f"{head} {n} paid job{'' if n == 1 else 's'} "
            f"({self.count(DONE)} already done, {self.count(RESUME)} resumed)"
        )
        extra = []
        if self.count(UNKNOWN):
            extra.append(
                f"{self.count(UNKNOWN)} whose create may have reached the gateway, not made again"
            )
        if self.count(FAILED):
            extra.append(f"{self.count(FAILED)} failed before, not made again")
        if self.count(DUPLICATE):
            n = self.count(DUPLICATE)
            extra.append(f"{n} repeated item{'' if n == 1 else 's'} sharing a job")
        return text + ("; " + "; ".join(extra) if extra else "")

    def check_cap(
        self, cap: int | None, *, option: str = "--max-jobs", source: str | None = None
    ) -> None:
        """BatchError if the batch would create more than ``cap`` paid jobs (0 or None: no
        cap), naming the count, where the cap came from and ``option``, the way to allow it."""
        message = cap_message(self.creates, cap, what="this batch", option=option, source=source)
        if message:
            raise BatchError(message)

    @property
    def ok(self) -> bool:
        """Every prompt has its video (a dry run: would have, with nothing left aside)."""
        if self.dry_run:
            return all(j.ok or j.status.startswith("would ") for j in self.jobs)
        return not self.interrupted and all(j.ok for j in self.jobs)

    @property
    def failed(self) -> list[BatchJob]:
        return [j for j in self.jobs if not j.ok]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for job in self.jobs:
            out[job.status] = out.get(job.status, 0) + 1
        return out

    def progress(self) -> float:
        """Overall, 0..100."""
        if not self.jobs:
            return 100.0
        return 100.0 * sum(j.fraction() for j in self.jobs) / len(self.jobs)

    def rows(self, base: Path | None = None) -> list[dict[str, str]]:
        """The summary: one row per item, in input order; nothing that changes between two
        runs of the same finished batch (no times)."""
        return [
            {
                "item": j.item.where or str(j.index + 1),
                "prompt": j.prompt,
                "status": j.status,
                "job": j.job_id or "",
                "file": shown_path(j.path, base) or "",
                "error": "; ".join(t for t in (j.error, j.note) if t),
            }
            for j in self.jobs
        ]

    def table(self, base: Path | None = None) -> str:
        """The summary as a plain-text table."""
        return text_table(self.rows(base))

    def headline(self) -> str:
        """One line above the summary: how many items ended how (no times: deterministic)."""
        counts = self.counts()
        order = [s for s in ("completed", "done", "duplicate") if s in counts]
        order += sorted(s for s in counts if s not in order)
        parts = ", ".join(f"{counts[s]} {s}" for s in order)
        n = len(self.jobs)
        return f"batch of {n} prompt{'' if n == 1 else 's'}: {parts or 'nothing to do'}"


COLUMNS = ("item", "prompt", "status", "job", "file", "error")


# How wide a column of the text table may grow (prompts and errors are cut, names never).
_CLIP = {"prompt": 40, "error": 72}


def text_table(rows: Sequence[Mapping[str, str]]) -> str:
    """Rows (``Batch.rows``) as a plain-text table."""
    if not rows:
        return "No prompts in this batch."
    cells = [[_clip(r.get(c, ""), _CLIP.get(c)) for c in COLUMNS] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def _clip(value: str, width: int | None) -> str:
    text = " ".join(str(value).split())
    return text if width is None or len(text) <= width else text[: width - 1] + "…"


def shown_path(path: str | Path | None, base: Path | None = None) -> str | None:
    """A file as a reader wants it: relative to ``base`` (default: the working folder) when
    inside it, else as stored."""
    if not path:
        return None
    p = Path(path)
    try:
        return p.resolve().relative_to((base or Path.cwd()).resolve()).as_posix()
    except (ValueError, OSError):
        return p.as_posix()


def cap_message(
    count: int, cap: int | None, *, what: str, option: str = "--max-jobs", source: str | None = None
) -> str | None:
    """The refusal for ``count`` paid jobs over ``cap`` (None when within it): it names the
    count, where the cap came from (``source``, default ``option``) and the option that allows
    more."""
    if not cap or count <= cap:
        return None
    return (
        f"{what} would create {count} paid jobs, more than the cap of {cap} "
        f"({source or option}): nothing was sent; if that is what you want, run it with "
        f"{option} {count} (0: no cap)"
    )


def plan(
    items: Sequence[Item],
    client: ClientCore,
    *,
    defaults: Mapping[str, Any] | None = None,
    dialect: str | None = None,
    timeout: float | None = 900.0,
    out_dir: Path | None = None,
    retry_failed: bool = False,
    retry_unknown: bool = False,
    dry_run: bool = False,
) -> Batch:
    """Prepare every item (BatchError naming the first line the rules refuse) and decide, from
    the journal, what each needs. Sends nothing.

    ``defaults``: the batch's own options (``--model`` …), which an item's own override.
    ``out_dir``: where files go (a completed job whose file is missing is fetched again).
    """
    journal = client.journal
    if journal is None:
        raise E.ConfigError(
            "a batch needs the job journal (Client(journal=True)): it is its memory"
        )
    notes: list[str] = []
    jobs: list[BatchJob] = []
    for index, item in enumerate(items):
        prepared = _prepare(client, item, defaults or {}, dialect, timeout, notes)
        key = item_key(client.base_url, prepared)
        prepared = BatchVideo(
            **{f.name: getattr(prepared, f.name) for f in fields(PreparedVideo)}, batch_key=key
        )
        jobs.append(BatchJob(index, item, key, prepared, CREATE))
    rows = journal.batch_entries(client.base_url, {j.key for j in jobs})
    first: dict[str, int] = {}
    for job in jobs:
        if job.key in first:
            job.action, job.same_as = DUPLICATE, first[job.key]
            job.status = DUPLICATE
            job.note = f"the same job as {jobs[first[job.key]].item.where}"
            continue
        first[job.key] = job.index
        _decide(job, rows.get(job.key, []), out_dir, retry_failed, retry_unknown)
    batch = Batch(client.base_url, jobs, notes, dry_run=dry_run)
    if dry_run:
        for job in jobs:
            if job.action in (CREATE, RESUME):
                job.status = f"would {job.action}"
    return batch


def _prepare(
    client: ClientCore,
    item: Item,
    defaults: Mapping[str, Any],
    dialect: str | None,
    timeout: float | None,
    notes: list[str],
) -> PreparedVideo:
    options = {**{k: v for k, v in defaults.items() if v is not None}, **item.options}
    try:
        with warnings.catch_warnings(record=True) as noted:
            warnings.simplefilter("always", E.RulesNote)
            prepared = client.prepare(
                item.prompt,
                model=options.get("model"),
                orientation=options.get("orientation"),
                size=options.get("size"),
                duration=options.get("duration"),
                dialect=dialect,
                timeout=timeout,
            )
    except E.ValidationError as exc:
        raise BatchError(f"{item.where}: {exc}" if item.where else str(exc)) from None
    for note in noted:
        text = str(note.message)
        if text not in notes:
            notes.append(text)
    return prepared


def _decide(
    job: BatchJob,
    rows: list[Entry],
    out_dir: Path | None,
    retry_failed: bool,
    retry_unknown: bool,
) -> None:
    """What an item needs, from the rows its key already has (newest first)."""
    completed = [r for r in rows if r.status == "completed"]
    for row in completed:
        if out_dir is None or (row.path and Path(row.path).is_file()):
            job.action, job.entry, job.status = DONE, row, "done"
            job.path = Path(row.path) if row.path else None
            job.job = row.job()
            return
    if completed:
        job.action, job.entry = RESUME, completed[0]  # its file is gone: fetched again
        return
    running = [r for r in rows if not r.done and not is_local(r.id)]
    if running:
        job.action, job.entry = RESUME, running[0]
        if not _pollable(running[0]):
            job.action, job.status = UNKNOWN, "unknown"
            job.note = (
                f"job {running[0].id} was followed through its stream only (no status route): "
                "it cannot be resumed, and is not made again"
            )
        return
    lost = [r for r in rows if is_local(r.id)]
    if lost and not retry_unknown:
        job.action, job.entry = UNKNOWN, lost[0]
        return
    if rows and not lost and not retry_failed:
        job.action, job.entry, job.status = FAILED, rows[0], FAILED
        job.error = rows[0].error or f"the gateway reported the job {rows[0].status}"
        job.note = "--retry-failed makes it again"
        return
    job.action = CREATE


def _pollable(entry: Entry) -> bool:
    return entry.dialect in dialects.names() and dialects.get(entry.dialect).abilities.poll


# -- running ------------------------------------------------------------------------------------

Listener = Callable[[BatchJob, RunEvent | None], Any]

UNKNOWN_NOTE = (
    "its create was sent and no answer came: the gateway may have made (and billed) it, so it "
    "is not made again; %sora_jobs --refresh (in a notebook) or the gateway's own job list "
    "tells; --retry-unknown makes it anyway"
)


async def run(
    batch: Batch,
    client: AsyncClient,
    *,
    out_dir: Path | None,
    parallel: int = DEFAULT_PARALLEL,
    timeout: float | None = 900.0,
    listener: Listener | None = None,
) -> Batch:
    """Run the plan: at most ``parallel`` items at once. Each item's end (completed, failed,
    unknown) is in its ``status``; the batch is returned. Cancelled (an interrupt): the items
    in flight are marked ``interrupted`` (their jobs stay in the journal, resumed by running
    the batch again) and the cancellation goes on."""
    if parallel < 1:
        raise E.ValidationError(f"parallel must be at least 1, not {parallel}")
    if batch.dry_run:
        return batch
    gate = asyncio.Semaphore(parallel)
    todo = [j for j in batch.jobs if j.action in (CREATE, RESUME, UNKNOWN)]

    def tell(job: BatchJob, event: RunEvent | None = None) -> None:
        if listener is not None:
            listener(job, event)

    async def one(job: BatchJob) -> None:
        async with gate:
            await _one(job, client, out_dir, timeout, tell)

    tasks = [asyncio.ensure_future(one(j)) for j in todo]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        batch.interrupted = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for job in todo:
            if not job.finished:
                _interrupted(job)
                tell(job)
        raise
    for job in batch.jobs:
        if job.action == DUPLICATE and job.same_as is not None:
            origin = batch.jobs[job.same_as]
            job.job, job.path = origin.job, origin.path
            job.status = DUPLICATE if origin.ok else origin.status
    return batch


def _interrupted(job: BatchJob) -> None:
    job.status = "interrupted"
    if job.job_id and not is_local(job.job_id):
        job.note = "run the batch again to resume it"
    elif job.job_id:
        job.note = UNKNOWN_NOTE
    else:
        job.note = "nothing was sent for it yet"


async def _one(
    job: BatchJob,
    client: AsyncClient,
    out_dir: Path | None,
    timeout: float | None,
    tell: Callable[[BatchJob, RunEvent | None], None],
) -> None:
    journal = client.journal
    if job.action == UNKNOWN:
        found = None
        if job.entry is not None and is_local(job.entry.id) and journal is not None:
            job.status = "looking"
            tell(job)
            try:
                found = await find_lost(client, journal, job.entry)
            except E.SoraError as exc:
                job.error = f"looking for it in the gateway's job list failed: {exc}"
        if found is None:
            job.status = "unknown"
            job.note = job.note or UNKNOWN_NOTE
            tell(job)
            return
        job.action = RESUME
        job.entry = journal.get(found.id, client.base_url) if journal is not None else None
        job.job = found

    def listen(event: RunEvent) -> None:
        if isinstance(event, Submitting):
            job.status = "submitting"
        elif isinstance(event, Submitted | Progressed):
            job.job, job.progress = event.job, event.job.progress
            job.status = event.job.status
            if job.status == "completed":  # the file is still to come: not finished yet
                job.status = "downloading" if out_dir is not None else "in_progress"
        elif isinstance(event, Finished):
            job.job, job.status = event.job, "downloading" if out_dir is not None else "completed"
        elif isinstance(event, Saved):
            job.job, job.path, job.status = event.job, event.path, "completed"
        elif isinstance(event, Failed) and event.job is not None and event.job.id:
            job.job = event.job
        tell(job, event)

    resume = None
    if job.action == RESUME:
        assert job.entry is not None
        resume = job.entry.job()
        job.job, job.status = resume, resume.status if not resume.done else "in_progress"
        tell(job)
    try:
        outcome = await client.run_video(
            job.prepared if resume is None else None,
            out_dir=out_dir,
            resume=resume,
            timeout=timeout,
            on_event=listen,
        )
    except (E.SoraError, OSError) as exc:
        # One item's end, not the batch's: the others go on.
        if isinstance(exc, E.SubmissionUnknown):
            job.status, job.note = "unknown", UNKNOWN_NOTE  # the job may exist: never made again
            job.error = " ".join(str(exc).split())
            tell(job)
            return
        job.status = "timed out" if isinstance(exc, E.PollTimeout) else "failed"
        line = " ".join(str(exc).split())
        job.error = line if isinstance(exc, E.SoraError) else f"{type(exc).__name__}: {line}"
        if job.job_id and not is_local(job.job_id) and not isinstance(exc, E.GenerationFailed):
            job.note = "it may still finish: run the batch again to resume it"
        tell(job)
        return
    job.job, job.status = outcome.job, "completed"
    job.path = outcome.path
    tell(job)
