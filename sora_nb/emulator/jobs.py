"""Job store and scheduler: `concurrency` jobs render at once, the rest wait in FIFO order. A job
holds its slot for the length of its progress curve (`progress.py`: `job_seconds` for the default
linear profile).

The schedule is computed from the clock when anyone looks (`tick`), not by a background task: a
job's start is the moment a slot freed up, so state is a pure function of time and arrivals and
the two server threads can share the store under one lock.
"""

from __future__ import annotations

import random
import shutil
import string
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .progress import Curve, make_curve
from .render import RenderResult, png_image, render_video, scaled_size

__all__ = ["Ids", "Job", "JobInfo", "JobStore", "JobView", "JobsView"]

# A failing job fails halfway through its render time, so progress visibly moved first.
FAIL_AT = 0.5
_B32 = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, as in ULID-style task ids
_ALNUM = string.ascii_letters + string.digits


class Ids:
    """Id and token factory: seeded (deterministic by request order) or truly random."""

    def __init__(self, seed: int | None) -> None:
        self._rng: random.Random = (
            random.Random(f"sora-emulator-ids:{seed}")
            if seed is not None
            else random.SystemRandom()
        )

    def _pick(self, alphabet: str, n: int) -> str:
        return "".join(self._rng.choice(alphabet) for _ in range(n))

    def task(self) -> str:
        return "task_01" + self._pick(_B32, 24)

    def video(self) -> str:
        return "video_" + self._pick("0123456789abcdef", 48)

    def stai(self) -> str:
        return self._pick(string.ascii_lowercase + string.digits, 12)

    def token(self) -> str:
        return self._pick(_ALNUM, 30)

    def chat(self) -> str:
        return "chatcmpl-" + self._pick(_ALNUM, 29)

    def newapi_task(self) -> str:
        # new-api's public task id: model.GenerateTaskID(), "task_" + GenerateRandomCharsKey(32).
        return "task_" + self._pick(string.digits + string.ascii_letters, 32)

    def call(self) -> str:
        return "call_" + self._pick(_ALNUM, 24)


@dataclass(eq=False)
class Job:
    id: str
    dialect: str  # "unified" | "openai" | "stai" | "chat": which create answered, shapes answers
    model: str
    prompt: str
    width: int  # reported size; the file is rendered smaller (render_scale)
    height: int
    seconds: float
    orientation: str
    params: dict[str, Any]
    created: float  # time.monotonic()
    created_wall: float
    render_seconds: float  # nominal render time (job_seconds when created)
    curve: Curve  # how long it holds a slot, and what progress it reports meanwhile
    token: str  # file name on the CDN
    date: str  # YYYYMMDD directory on the CDN
    seq: int
    fail_reason: str | None = None
    remixed_from: str | None = None
    status: str = "queued"  # queued | in_progress | completed | failed
    start: float | None = None
    end: float | None = None
    render: Future[RenderResult] | None = field(default=None, repr=False)

    @property
    def upstream_id(self) -> str:
        return self.id.split(":", 1)[1] if ":" in self.id else self.id

    @property
    def terminal(self) -> bool:
        return self.status in ("completed", "failed")


@dataclass(frozen=True)
class JobInfo:
    """A read-only snapshot of one job, for tests (`emu.jobs[id]`)."""

    id: str
    dialect: str
    model: str
    prompt: str
    status: str
    progress: float  # 0..100 (0 while a job of the `silent` profile runs)
    params: dict[str, Any]
    width: int
    height: int
    seconds: float
    error: str | None
    remixed_from: str | None
    queue_position: int | None


@dataclass(frozen=True)
class JobView:
    """One job as the answers describe it at one moment: what was asked, and where the schedule
    stands. The shapes (`shapes/`) are functions of this value, so they need no store or clock."""

    id: str
    dialect: str
    model: str
    prompt: str
    width: int
    height: int
    seconds: float
    orientation: str
    params: dict[str, Any]
    token: str  # file name on the CDN
    date: str  # YYYYMMDD directory on the CDN
    fail_reason: str | None
    remixed_from: str | None
    status: str  # queued | in_progress | completed | failed
    progress: float | None  # 0..1, unrounded; None: the relay reports no figure (`silent`)
    queue_position: int | None  # 1 = next to start; None once started
    queue_wait: float | None  # seconds until it starts, estimated; None once started
    created_at: float  # wall clock, seconds
    changed_at: float  # wall clock of the latest status change
    ended_at: float | None  # wall clock the render finished or failed; None before
    seq: int = 0  # 1, 2, … in order of creation (a relay's row id)
    started_at: float | None = None  # wall clock rendering began; None before

    @property
    def upstream_id(self) -> str:
        return self.id.split(":", 1)[1] if ":" in self.id else self.id


class JobStore:
    def __init__(self, ids: Ids, config: Callable[[], Any]) -> None:
        self.ids = ids
        self._config = config  # returns the emulator's current EmulatorConfig
        self.lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._by_token: dict[str, Job] = {}
        self._images: dict[str, Path] = {}
        self._queue: deque[Job] = deque()
        self._running: list[Job] = []
        self._cursor = time.monotonic()  # all schedule events up to here are applied
        self._t0 = (time.monotonic(), time.time())
        self._seq = 0
        self.dir = Path(tempfile.mkdtemp(prefix="sora-emulator-"))
        # Also removed at interpreter exit if nobody called close() (e.g. a kernel shut down).
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.dir, ignore_errors=True)
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sora-emu-render")

    # --- time ---
    def wall(self, mono: float) -> float:
        return self._t0[1] + (mono - self._t0[0])

    # --- scheduling ---
    def tick(self, now: float | None = None) -> None:
        """Apply every start and finish that happened up to `now`."""
        now = time.monotonic() if now is None else now
        concurrency = max(1, int(self._config().concurrency))
        with self.lock:
            while True:
                while self._queue and len(self._running) < concurrency:
                    job = self._queue.popleft()
                    job.start = max(job.created, self._cursor)
                    span = job.curve.total * (FAIL_AT if job.fail_reason else 1.0)
                    job.end = job.start + span
                    job.status = "in_progress"
                    self._running.append(job)
                if not self._running:
                    break
                first = min(self._running, key=lambda j: j.end or 0.0)
                if first.end is None or first.end > now:
                    break
                self._running.remove(first)
                first.status = "failed" if first.fail_reason else "completed"
                self._cursor = first.end
            self._cursor = max(self._cursor, now)

    def create(
        self,
        *,
        dialect: str,
        model: str,
        prompt: str,
        width: int,
        height: int,
        seconds: float,
        orientation: str,
        params: dict[str, Any],
        job_id: str,
        fail_reason: str | None = None,
        remixed_from: str | None = None,
    ) -> Job:
        now = time.monotonic()
        with self.lock:
            self.tick(now)
            self._seq += 1
            if fail_reason is None and "[fail]" in prompt:
                fail_reason = "content policy violation: the prompt contains [fail]"
            wall = self.wall(now)
            cfg = self._config()
            render_seconds = max(0.0, float(cfg.job_seconds))
            # Its own generator per job, so the ids drawn for a seed stay the same in any profile.
            rng = (
                random.Random(f"sora-emulator-progress:{cfg.seed}:{self._seq}")
                if cfg.seed is not None
                else random.Random()
            )
            job = Job(
                id=job_id,
                dialect=dialect,
                model=model,
                prompt=prompt,
                width=width,
                height=height,
                seconds=seconds,
                orientation=orientation,
                params=params,
                created=now,
                created_wall=wall,
                render_seconds=render_seconds,
                curve=make_curve(cfg.progress_profile, render_seconds, rng),
                token=self.ids.token(),
                date=time.strftime("%Y%m%d", time.gmtime(wall)),
                seq=self._seq,
                fail_reason=fail_reason,
                remixed_from=remixed_from,
            )
            self._jobs[job.id] = job
            self._by_token[job.token] = job
            self._queue.append(job)
            self.tick(now)
            return job

    def get(self, job_id: str) -> Job | None:
        with self.lock:
            self.tick()
            job = self._jobs.get(job_id)
            if job is None and ":" not in job_id:
                # Relays accept the upstream id without its "<model>:" prefix too.
                job = next((j for j in self._jobs.values() if j.upstream_id == job_id), None)
            return job

    def by_token(self, token: str) -> Job | None:
        with self.lock:
            self.tick()
            return self._by_token.get(token)

    def delete(self, job_id: str) -> bool:
        with self.lock:
            self.tick()
            job = self._jobs.pop(job_id, None)
            if job is None:
                return False
            self._by_token.pop(job.token, None)
            if job in self._queue:
                self._queue.remove(job)
            if job in self._running:
                self._running.remove(job)  # frees its slot now
            self.tick()
            return True

    def all(self) -> list[Job]:
        with self.lock:
            self.tick()
            return list(self._jobs.values())

    def reported(self, job: Job, now: float | None = None) -> tuple[str, float | None]:
        """The status word and the 0..1 progress the answers report now (None: no figure).

        A job waiting upstream (its curve's wait) holds a slot but reads as queued at 0; a failed
        job's progress stays where it stopped.
        """
        if job.status == "completed":
            return "completed", 1.0
        if job.start is None:
            return job.status, 0.0
        if job.status == "failed":
            return "failed", job.curve.at_share(FAIL_AT)
        now = time.monotonic() if now is None else now
        elapsed = now - job.start
        if job.curve.queued(elapsed):
            return "queued", 0.0
        return job.status, job.curve.at(elapsed)

    def queue_position(self, job: Job) -> int | None:
        with self.lock:
            try:
                return list(self._queue).index(job) + 1
            except ValueError:
                return None

    def queue_wait(self, job: Job) -> float | None:
        pos = self.queue_position(job)
        if pos is None:
            return None
        concurrency = max(1, int(self._config().concurrency))
        return round(((pos - 1) // concurrency + 1) * job.render_seconds, 3)

    def view(self, job: Job) -> JobView:
        """The job now, as one consistent value for the shapes."""
        with self.lock:
            self.tick()
            status, progress = self.reported(job)
            rendering_since = job.start + job.curve.wait if job.start is not None else None
            moment = {"queued": job.created, "in_progress": rendering_since}.get(status, job.end)
            return JobView(
                id=job.id,
                dialect=job.dialect,
                model=job.model,
                prompt=job.prompt,
                width=job.width,
                height=job.height,
                seconds=job.seconds,
                orientation=job.orientation,
                params=job.params,
                token=job.token,
                date=job.date,
                fail_reason=job.fail_reason,
                remixed_from=job.remixed_from,
                status=status,
                progress=progress,
                queue_position=self.queue_position(job),
                queue_wait=self.queue_wait(job),
                created_at=job.created_wall,
                changed_at=self.wall(moment or job.created),
                ended_at=self.wall(job.end) if job.terminal and job.end is not None else None,
                seq=job.seq,
                started_at=self.wall(rendering_since)
                if rendering_since is not None and status != "queued"
                else None,
            )

    def info(self, job: Job) -> JobInfo:
        view = self.view(job)
        return JobInfo(
            id=view.id,
            dialect=view.dialect,
            model=view.model,
            prompt=view.prompt,
            status=view.status,
            progress=round((view.progress or 0.0) * 100, 3),
            params=dict(view.params),
            width=view.width,
            height=view.height,
            seconds=view.seconds,
            error=view.fail_reason if view.status == "failed" else None,
            remixed_from=view.remixed_from,
            queue_position=view.queue_position,
        )

    # --- media ---
    def rendered(self, job: Job) -> Future[RenderResult]:
        """The job's files, rendered once on first need, in a worker thread."""
        with self.lock:
            if job.render is None:
                cfg = self._config()
                w, h = scaled_size(job.width, job.height, cfg.render_scale)
                job.render = self._executor.submit(
                    render_video,
                    job.prompt,
                    seed=cfg.seed,
                    width=w,
                    height=h,
                    seconds=job.seconds,
                    out_dir=self.dir,
                    stem=job.token,
                    fps=cfg.render_fps,
                )
            return job.render

    def new_image_token(self) -> str:
        with self.lock:
            return self.ids.token()

    def save_image(self, token: str, prompt: str, width: int, height: int, index: int) -> bytes:
        """Render a PNG for `token` (any thread) and keep it for the CDN."""
        data = png_image(prompt, seed=self._config().seed, width=width, height=height, index=index)
        path = self.dir / f"{token}.png"
        path.write_bytes(data)
        with self.lock:
            self._images[token] = path
        return data

    def image_path(self, token: str) -> Path | None:
        return self._images.get(token)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._cleanup()


class JobsView(Mapping[str, JobInfo]):
    """Read access to the store by id, as snapshots."""

    def __init__(self, store: JobStore) -> None:
        self._store = store

    def __getitem__(self, job_id: str) -> JobInfo:
        job = self._store.get(job_id)
        if job is None:
            raise KeyError(job_id)
        return self._store.info(job)

    def __iter__(self) -> Iterator[str]:
        return iter([j.id for j in self._store.all()])

    def __len__(self) -> int:
        return len(self._store.all())
