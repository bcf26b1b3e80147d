"""Every submitted job, in SQLite, before anything waits on it.

A paid job must never be lost to an interrupt, a crash or a kernel restart: its id is written
here as soon as the gateway answers the create, and updated as it moves, so ``%sora_jobs
--resume ID`` can finish it later. No API key is ever stored; the gateway is recorded by its base
URL only.

The file lives in the per-user data folder (``$SORA_NB_DATA_DIR`` overrides it). It holds
prompts and signed video links, so on POSIX only its owner may read it: the folder is made 0700
when sora_nb creates it, and the file (with SQLite's ``-wal``, ``-shm`` and ``-journal`` files,
which take the database file's mode) 0600.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import _exceptions as E
from .events import Failed, Progressed, RunEvent, Saved, Submitting, Text
from .models import Job
from .paths import ENV_DATA_DIR as ENV_DATA_DIR  # re-exported: where the journal lives
from .paths import data_dir

# The params entry that ties a row to the batch item that made it (``Entry.batch_key``).
BATCH_KEY = "batch_key"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    base_url    TEXT NOT NULL,
    id          TEXT NOT NULL,
    dialect     TEXT NOT NULL,
    model       TEXT,
    prompt      TEXT,
    params      TEXT NOT NULL DEFAULT '{}',
    status      TEXT NOT NULL,
    progress    REAL,
    video_url   TEXT,
    path        TEXT,
    error       TEXT,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (base_url, id)
)
"""


@dataclass(frozen=True)
class Entry:
    """One journal row."""

    base_url: str
    id: str
    dialect: str
    model: str | None
    prompt: str | None
    params: Mapping[str, Any]
    status: str
    progress: float | None
    video_url: str | None
    path: str | None
    error: str | None
    created_at: float
    updated_at: float

    @property
    def done(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")

    @property
    def batch_key(self) -> str | None:
        """The idempotency key of the batch item that made this job (``sora_nb.batch``), kept
        with the request's parameters: journals written before batches existed, and sora_nb
        versions that know nothing of them, read the row as it always was."""
        key = self.params.get(BATCH_KEY)
        return key if isinstance(key, str) and key else None

    def job(self) -> Job:
        """The entry as a Job, to resume waiting on it."""
        return Job(
            id=self.id,
            status=self.status,
            dialect=self.dialect,  # type: ignore[arg-type]
            progress=self.progress,
            model=self.model,
            prompt=self.prompt,
            video_url=self.video_url,
            error=self.error,
            seconds=_seconds(self.params.get("duration")),
        )


class Journal:
    """The job journal. Each call opens its own short connection: safe across kernels."""

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, busy_timeout: float = 2.0
    ) -> None:
        self.path = Path(path) if path is not None else data_dir() / "jobs.sqlite3"
        # How long a write waits for another program's lock. Short: sora_nb writes from the
        # kernel's event loop, and a run goes on (retrying later) rather than freeze the kernel.
        self.busy_timeout = busy_timeout
        # A folder sora_nb creates is private; one that exists is the user's to set.
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _make_private(self.path, *_side_files(self.path))
        with self._connect() as db:
            db.execute(_SCHEMA)

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self.path.exists():  # removed since: SQLite would recreate it readable by all
            _make_private(self.path)
        with closing(sqlite3.connect(self.path, timeout=self.busy_timeout)) as db, db:
            yield db

    def record(self, base_url: str, job: Job, params: Mapping[str, Any] | None = None) -> None:
        """Write a newly submitted job (or refresh it if the id is known already)."""
        now = time.time()
        with self._connect() as db:
            db.execute(
                "INSERT INTO jobs (base_url, id, dialect, model, prompt, params, status, "
                "progress, video_url, error, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (base_url, id) DO UPDATE SET status = excluded.status, "
                "progress = excluded.progress, video_url = excluded.video_url, "
                "error = excluded.error, updated_at = excluded.updated_at",
                (
                    base_url,
                    job.id,
                    job.dialect,
                    job.model,
                    job.prompt,
                    json.dumps(dict(params or {}), default=str),
                    job.status,
                    job.progress,
                    job.video_url,
                    job.error,
                    now,
                    now,
                ),
            )

    def update(
        self, base_url: str, job: Job, *, path: str | os.PathLike[str] | None = None
    ) -> None:
        """The job's latest state (and the downloaded file, once there is one)."""
        with self._connect() as db:
            db.execute(
                "UPDATE jobs SET status = ?, progress = ?, "
                "video_url = COALESCE(?, video_url), error = ?, "
                "path = COALESCE(?, path), updated_at = ? WHERE base_url = ? AND id = ?",
                (
                    job.status,
                    job.progress,
                    job.video_url,
                    job.error,
                    os.fspath(path) if path is not None else None,
                    time.time(),
                    base_url,
                    job.id,
                ),
            )

    def replace_id(self, base_url: str, old_id: str, job: Job) -> None:
        """The row kept under ``old_id`` (a local stand-in) now belongs to ``job``'s real id,
        keeping its request parameters and creation time."""
        now = time.time()
        with self._connect() as db:
            row = db.execute(
                "SELECT params, created_at FROM jobs WHERE base_url = ? AND id = ?",
                (base_url, old_id),
            ).fetchone()
            params, created = row if row else ("{}", now)
            db.execute("DELETE FROM jobs WHERE base_url = ? AND id = ?", (base_url, old_id))
            db.execute(
                "INSERT OR REPLACE INTO jobs (base_url, id, dialect, model, prompt, params, "
                "status, progress, video_url, error, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    base_url,
                    job.id,
                    job.dialect,
                    job.model,
                    job.prompt,
                    params,
                    job.status,
                    job.progress,
                    job.video_url,
                    job.error,
                    created,
                    now,
                ),
            )

    def forget(self, base_url: str, job_id: str) -> None:
        """Remove a row (a local stand-in for a create the gateway refused: nothing was made)."""
        with self._connect() as db:
            db.execute("DELETE FROM jobs WHERE base_url = ? AND id = ?", (base_url, job_id))

    def get(self, job_id: str, base_url: str | None = None) -> Entry | None:
        """The newest entry with this id (on ``base_url`` when given)."""
        query = "SELECT * FROM jobs WHERE id = ?" + (" AND base_url = ?" if base_url else "")
        args = (job_id, base_url) if base_url else (job_id,)
        with self._connect() as db:
            row = db.execute(query + " ORDER BY updated_at DESC LIMIT 1", args).fetchone()
        return _entry(row) if row else None

    def entries(
        self, *, limit: int = 50, unfinished: bool = False, base_url: str | None = None
    ) -> list[Entry]:
        """Newest first."""
        where, args = [], []
        if unfinished:
            where.append("status NOT IN ('completed', 'failed', 'cancelled')")
        if base_url:
            where.append("base_url = ?")
            args.append(base_url)
        sql = "SELECT * FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
        with self._connect() as db:
            return [_entry(r) for r in db.execute(sql, (*args, int(limit))).fetchall()]

    def batch_entries(self, base_url: str, keys: Iterable[str]) -> dict[str, list[Entry]]:
        """The rows made on ``base_url`` by batch items with these idempotency keys, newest
        first for each key (a failed job made again has two)."""
        wanted = set(keys)
        found: dict[str, list[Entry]] = {}
        if not wanted:
            return found
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM jobs WHERE base_url = ? AND params LIKE ? "
                "ORDER BY created_at DESC, rowid DESC",
                (base_url, f'%"{BATCH_KEY}"%'),
            ).fetchall()
        for row in rows:
            entry = _entry(row)
            key = entry.batch_key
            if key is not None and key in wanted:
                found.setdefault(key, []).append(entry)
        return found

    def typical_seconds(self, base_url: str, model: str | None, *, last: int = 20) -> float | None:
        """How long jobs of ``model`` on ``base_url`` took, create to completion (the median of
        the last ``last`` that completed); None before one has. The poll schedule's prior for a
        job that reports nothing (``polling.PollSchedule(expected_seconds=…)``)."""
        if not model:
            return None
        with self._connect() as db:
            # updated_at of a completed row is when it completed, or when its file was saved
            # (seconds later): close enough for a prior.
            rows = db.execute(
                "SELECT updated_at - created_at FROM jobs WHERE base_url = ? AND model = ? "
                "AND status = 'completed' ORDER BY updated_at DESC LIMIT ?",
                (base_url, model, int(last)),
            ).fetchall()
        spans = sorted(float(r[0]) for r in rows if r[0] is not None and r[0] > 0)
        return spans[len(spans) // 2] if spans else None

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])


class JournalWriter:
    """Keeps the journal in step with a run's events. The one place that turns run events into
    journal rows.

    - Before a create goes out (``Submitting``), the job is written under a local id with status
      ``submitting``: an interrupt or a lost answer cannot lose a job the gateway may have made.
    - When the gateway answers (``Submitted``), that row takes the gateway's id; then every
      change, the failure the gateway reports, and the saved file are written.
    - If the create is refused (an HTTP error, a connection never made), nothing was made and
      the row goes; if its answer was lost, the row stays, status ``unknown``, saying so.
    - A journal another program holds locked does not stop the run: the job's id is said at
      once (``notice``, standard error by default) and the row written at the next event that
      finds the journal free.
    """

    def __init__(
        self,
        journal: Journal,
        base_url: str,
        params: Mapping[str, Any] | None = None,
        *,
        notice: Callable[[str], Any] | None = None,
    ) -> None:
        self.journal, self.base_url, self.params = journal, base_url, dict(params or {})
        self.notice = notice or _to_stderr
        self.local: str | None = None  # the stand-in row's id, until the gateway names the job
        self.recorded = False
        self.unwritten: Job | None = None
        self.announced: str | None = None  # the last id said to be unrecorded

    def __repr__(self) -> str:
        return f"JournalWriter({self.journal!r}, {self.base_url!r})"

    def __call__(self, event: RunEvent) -> None:
        job = event.job
        if isinstance(event, Failed) and (job is None or not job.id) and self.local:
            job = None  # decided from the error alone, below
        elif job is None or (not job.id and (self.local is None or _passing(event))):
            return  # nothing to find it by yet (a chat answer that has not named its task)
        elif not job.id:
            job = replace(job, id=self.local)  # it ended without ever naming its task
        try:
            self._write(event, job)
        except sqlite3.Error as exc:
            shown = job.id if job is not None else self.local
            if shown != self.announced:  # each id once: the local one, then the gateway's
                self.announced = shown
                self.notice(
                    f"sora_nb: could not write the job journal ({exc}); job {shown} is not "
                    "recorded there yet (keep this id). The run goes on and tries again."
                )
            self.unwritten = job
            return
        if self.unwritten is not None and job is not None:
            self.unwritten = None
            self.notice(f"sora_nb: job {job.id} is now recorded in the journal.")

    def _write(self, event: RunEvent, job: Job | None) -> None:
        if isinstance(event, Submitting):
            assert job is not None
            self.local = job.id
            self.journal.record(self.base_url, job, self.params)
            return
        if job is None:  # a create that failed before the gateway named the job
            assert isinstance(event, Failed) and self.local is not None
            if _nothing_made(event.error):
                self.journal.forget(self.base_url, self.local)
            else:
                stand_in = replace(
                    event.job or Job(id="", status="queued", dialect=""),
                    id=self.local,
                    status="unknown",  # type: ignore[arg-type]
                    error=f"the gateway may have made (and billed) this job: {event.error}",
                )
                self.journal.update(self.base_url, stand_in)
            return
        if self.local is not None and job.id != self.local:
            self.journal.replace_id(self.base_url, self.local, job)
            self.local, self.recorded = None, True
        if isinstance(event, Failed) and not isinstance(event.error, E.GenerationFailed):
            # Only a job the gateway ended is failed for good; after a timeout, an interrupt
            # or a lost connection it may still finish, and the row must stay resumable.
            if not self.recorded:
                self.journal.record(self.base_url, self.unwritten or job, self.params)
                self.recorded = True
            return
        self.journal.record(self.base_url, job, self.params)
        self.recorded = True
        if isinstance(event, Saved):
            self.journal.update(self.base_url, job, path=event.path.resolve())


def _passing(event: RunEvent) -> bool:
    return isinstance(event, Progressed | Text)


def _nothing_made(error: E.SoraError) -> bool:
    """Whether a failed create certainly made no job: the gateway refused it, or it was never
    sent. After a lost answer (a timeout, a reset, an unreadable 200) the job may exist."""
    if isinstance(error, E.ConnectError | E.ValidationError | E.ConfigError):
        return True
    return isinstance(error, E.GatewayError)


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


def _side_files(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def _make_private(path: Path, *existing: Path) -> None:
    """Create ``path`` (if missing) readable and writable by its owner only, and take group and
    other access away from it and from ``existing`` files (journals of earlier versions were
    0644). SQLite gives the files it adds the database file's mode. Best effort: a file the
    user cannot change is left as it is, and sqlite3 reports what matters."""
    if os.name != "posix":
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        fd = None
    if fd is not None:
        try:
            if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
                os.fchmod(fd, 0o600)
        except OSError:
            pass
        finally:
            os.close(fd)
    for other in existing:
        try:
            if stat.S_IMODE(other.stat().st_mode) & 0o077:
                other.chmod(0o600)
        except OSError:
            pass  # absent (the usual case), or not ours


def _seconds(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _entry(row: tuple[Any, ...]) -> Entry:
    (
        base_url,
        job_id,
        dialect,
        model,
        prompt,
        params,
        status,
        progress,
        video_url,
        path,
        error,
        created_at,
        updated_at,
    ) = row
    try:
        decoded = json.loads(params) if params else {}
    except ValueError:
        decoded = {}
    return Entry(
        base_url,
        job_id,
        dialect,
        model,
        prompt,
        decoded,
        status,
        progress,
        video_url,
        path,
        error,
        created_at,
        updated_at,
    )
