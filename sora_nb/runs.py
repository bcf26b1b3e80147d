"""The one video lifecycle: a prepared request → create → wait → download, as a flow of steps.

Every way sora_nb makes a video goes through :func:`video`: ``Client.generate_video`` and its
async twin, ``%%sora_video`` (one job, ``-n N``, ``--background``, ``--resume``), the panel's
Generate and Resume, and videos made through chat. It emits typed events (``sora_nb.events``) as
it goes; the journal, status lines and ``on_update`` callbacks only listen, so they cannot
disagree about what happened.

A request is *prepared* once (:func:`prepare`): validated against the model's rules, normalised,
its reference images read and the create request built, before anything is sent. Pure except for
reading those images; the client's drivers perform the steps.
"""

from __future__ import annotations

import json
import mimetypes
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import _errors, dialects, flows
from . import _exceptions as E
from ._secret import Secret
from .budget import Budget
from .capabilities import validate_video_request
from .dialects import Dialect, HttpRequest
from .dialects._dialect import check_variant
from .dialects.chat import ChatStreamState, completion_state, parse_chat_completion
from .events import (
    LOCAL_PREFIX,
    Failed,
    Finished,
    Progressed,
    Saved,
    Submitted,
    Submitting,
    Text,
)
from .files import load_image, safe_filename
from .flows import Emit, Flow, Receive, Reply, Whole
from .models import ChatEvent, Job, VideoRequest
from .polling import PollSchedule
from .retry import RetryPolicy

__all__ = [
    "Context",
    "Outcome",
    "PreparedVideo",
    "chat_stream",
    "download",
    "interrupted",
    "prepare",
    "video",
    "wait",
]

_IMAGE_SUFFIXES = (".webp", ".jpg", ".jpeg", ".png", ".gif")
_MEDIA_SUFFIXES = (".mp4", ".webm", ".mov", ".m4v", ".mkv", *_IMAGE_SUFFIXES)


@dataclass(frozen=True)
class Context:
    """What the flows need from the client that drives them: retry rules, the clock, the poll
    bounds, the secrets to keep out of anything parsed, and the request budget of the gateway
    and key (whose status boards let many waits share list requests; None: each polls alone)."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], float] = field(default=lambda: 0.0)
    min_interval: float = 1.0
    max_interval: float = 30.0
    secrets: tuple[Secret, ...] = ()
    budget: Budget | None = field(default=None, repr=False)

    def load(self, reply: Reply, what: str) -> Any:
        """A JSON answer; an error object sent with status 200 is raised as the gateway's error."""
        body = _errors.load_json(reply.content, what=what, secrets=self.secrets)
        refused = _errors.refusal(body, what=what)
        if refused is not None:
            raise refused
        return body

    def schedule(
        self, min_interval: float | None = None, expected_seconds: float | None = None
    ) -> PollSchedule:
        low = self.min_interval if min_interval is None else min_interval
        return PollSchedule(
            min_interval=low,
            max_interval=max(low, self.max_interval),
            expected_seconds=expected_seconds,
        )


@dataclass(frozen=True)
class PreparedVideo:
    """A video request checked and shaped once: what will be sent, and for how long to wait."""

    request: VideoRequest  # validated and normalised (sizes in the family's own words)
    dialect: Dialect
    create: HttpRequest = field(repr=False)  # built once; local images already read into it
    timeout: float | None = 900.0
    # Values outside the rules sora_nb knows, sent anyway to a relay whose rules it does not
    # know (one line each; the relay's own refusal is the answer).
    notes: tuple[str, ...] = ()

    @property
    def params(self) -> dict[str, Any]:
        """What the journal keeps about the request (no file contents)."""
        r = self.request
        return {
            "orientation": r.orientation,
            "size": r.size,
            "duration": r.duration,
            "images": [
                i if i.startswith(("http://", "https://")) else Path(i).name for i in r.images
            ],
        }


def prepare(
    request: VideoRequest,
    dialect: str | Dialect,
    *,
    timeout: float | None = 900.0,
    strict: bool = True,
) -> PreparedVideo:
    """Validate ``request`` for ``dialect``, read its images and build the create request.

    Raises :class:`ValidationError` (one line) for anything the gateway would refuse that sora_nb
    can know: nothing has been sent then. ``strict=False``: the model rules only advise (a
    relay whose rules sora_nb does not know), and what they would refuse is in ``notes``.
    """
    family = dialects.get(dialect)
    check_seconds("timeout", timeout)
    notes: list[str] = []
    checked = validate_video_request(request, family, strict=strict, notes=notes)
    checked = replace(checked, prompt=checked.prompt.strip())
    refs = [load_image(i) for i in checked.images]
    create = family.build_create(checked, refs)
    return PreparedVideo(checked, family, create, timeout, tuple(notes))


def check_seconds(name: str, value: object) -> None:
    """A number of seconds a user gave: positive, or None (no limit)."""
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value < 1e9  # also no inf or nan: no clock or sleep takes them
    ):
        raise E.ValidationError(f"{name} must be a positive number of seconds, not {value!r}")


@dataclass(frozen=True)
class Outcome:
    """A finished run: the completed job and, when it was downloaded, its file."""

    job: Job
    path: Path | None = None


# -- parsing -------------------------------------------------------------------------------------


def job_parser(
    ctx: Context,
    dialect: Dialect,
    *,
    prompt: str | None = None,
    model: str | None = None,
    seconds: float | None = None,
) -> Callable[[Reply], Job]:
    """How a create or status answer becomes a Job (what the answer leaves out, the request
    still knows: prompt, model, duration)."""

    def parse(reply: Reply) -> Job:
        body = ctx.load(reply, "reading the video job")
        job = dialect.parse_job(body, reply.headers, prompt=prompt, model=model)
        return replace(job, seconds=seconds) if job.seconds is None and seconds else job

    return parse


# -- the lifecycle -------------------------------------------------------------------------------


def pending(dialect: Dialect, *, model: str | None, prompt: str | None) -> Job:
    """The stand-in for a job whose create is about to be sent: a local id, status
    ``submitting``. Journaled before the create goes out, so an interrupt or a lost answer
    cannot lose a job the gateway may have made (and billed)."""
    return Job(
        id=LOCAL_PREFIX + uuid.uuid4().hex[:16],
        status="submitting",  # type: ignore[arg-type]
        dialect=dialect.name,
        model=model,
        prompt=prompt,
        error="the create was sent; its answer had not come",
    )


def submit(
    request: HttpRequest,
    parse: Callable[[Reply], Job],
    ctx: Context,
    stand_in: Job,
    deadline: float | None = None,
) -> Flow:
    """Send a request that starts a job (create, remix): Submitting before it goes out, then
    Submitted with the gateway's id, before anything waits on it. ``deadline`` (the flow's
    clock): its turn must come by then, or :class:`TurnTimeout` (nothing sent); a 429 is tried
    again on the gateway's pace until then (a refused create made no job)."""
    yield Emit(Submitting(stand_in))
    reply = yield from flows.send(request, ctx.policy, deadline=deadline, clock=ctx.clock)
    job = parse(reply)
    yield Emit(Submitted(job))
    return job


def create(prepared: PreparedVideo, ctx: Context, deadline: float | None = None) -> Flow:
    """Send the prepared create; the new job is reported Submitted. Its turn must come by
    ``deadline`` (default: the prepared timeout from now)."""
    r = prepared.request
    if deadline is None and prepared.timeout is not None:
        deadline = ctx.clock() + prepared.timeout
    parse = job_parser(ctx, prepared.dialect, prompt=r.prompt, model=r.model, seconds=r.duration)
    stand_in = pending(prepared.dialect, model=r.model, prompt=r.prompt)
    return (yield from submit(prepared.create, parse, ctx, stand_in, deadline))


def wait(
    job: Job,
    ctx: Context,
    *,
    timeout: float | None,
    poll_interval: float | None = None,
    fresh: bool = True,
    expected_seconds: float | None = None,
    deadline: float | None = None,
) -> Flow:
    """Poll ``job`` until it ends (``flows.wait``); Progressed events report each change.

    ``fresh``: ``job`` is what the gateway just said (a create's answer), so the first poll waits;
    otherwise (a bare id, a journal row) the first poll goes at once. ``expected_seconds``: how
    long such jobs took before (the journal's history), the schedule's prior. ``deadline``: when
    the wait ends, when it began before this wait did (a run's create counts in its timeout).
    Where the family lists jobs, the waits on one gateway and key share list requests (the
    budget's status board).
    """
    if not job.id:
        raise E.ValidationError("no job id to wait for")
    family = dialects.get(job.dialect)
    board = None
    if ctx.budget is not None and family.abilities.list:
        board = ctx.budget.board(family.name)
    parse = job_parser(ctx, family, prompt=job.prompt, model=job.model, seconds=job.seconds)
    return (
        yield from flows.wait(
            job.id,
            dialect=family,
            policy=ctx.policy,
            schedule=ctx.schedule(poll_interval, expected_seconds),
            clock=ctx.clock,
            timeout=timeout,
            parse=parse,
            last=job if fresh else None,
            deadline=deadline,
            board=board,
            page=status_page(ctx, family) if board is not None else None,
        )
    )


def status_page(ctx: Context, dialect: Dialect) -> Callable[[Reply], flows.Page]:
    """How a list answer answers each listed job's poll: the family's list holds each job in the
    shape its status route returns it (OpenAI's ``GET /videos`` returns ``data``, an array of
    the same Video objects ``GET /videos/{id}`` does: OpenAI API reference, Videos, "List
    videos"), so each item becomes the answer a poll of that job would have had."""

    def parse(reply: Reply) -> flows.Page:
        body = ctx.load(reply, "listing videos")
        jobs, cursor = dialect.parse_list(body)
        items = {
            job.id: Reply(reply.status, reply.headers, json.dumps(job.raw).encode())
            for job in jobs
            if isinstance(job.raw, Mapping)
        }
        return items, cursor

    return parse


def video(
    prepared: PreparedVideo | None,
    ctx: Context,
    *,
    out_dir: Path | None,
    resume: Job | None = None,
    timeout: float | None = 900.0,
    expected_seconds: float | None = None,
) -> Flow:
    """The whole of one video: create (or stream), wait, download into ``out_dir`` (None: keep
    the link only). ``resume``: a job already submitted (from the journal) to finish instead,
    waiting at most ``timeout`` (a prepared request carries its own).

    Returns an :class:`Outcome`; raises GenerationFailed, PollTimeout or another SoraError after
    emitting :class:`Failed`.
    """
    job: Job | None = resume
    if prepared is not None:
        timeout = prepared.timeout
    # The timeout covers the whole run: a create waiting its turn (a rate-limited gateway)
    # spends it too.
    deadline = None if timeout is None else ctx.clock() + timeout
    try:
        if resume is None:
            if prepared is None:
                raise E.ValidationError("nothing to run: give a prepared request or a job")
            if prepared.dialect.abilities.streams:
                job = yield from _streamed(prepared, ctx)
            else:
                job = yield from create(prepared, ctx, deadline)
        if resume is not None and dialects.get(resume.dialect).abilities.poll:
            # Ask the gateway, whatever the journal says: a row marked failed after a passing
            # 404 may have completed since, and a completed one gets a fresh (signed) link.
            job = yield from wait(
                resume,
                ctx,
                timeout=timeout,
                fresh=False,
                expected_seconds=expected_seconds,
                deadline=deadline,
            )
        elif not job.done:
            job = yield from wait(
                job, ctx, timeout=timeout, expected_seconds=expected_seconds, deadline=deadline
            )
        elif job.status != "completed":
            raise E.GenerationFailed(
                f"video job {job.id} {job.status}: {job.error or 'no reason given'}",
                job=job,
                reason=job.error,
            )
        yield Emit(Finished(job))
        path = None
        if out_dir is not None:
            path = yield from download(job, ctx, out_dir)
        return Outcome(job, path)
    except E.SoraError as exc:
        failed = getattr(exc, "job", None) or job
        yield Emit(Failed(failed, exc))
        raise


def _streamed(prepared: PreparedVideo, ctx: Context) -> Flow:
    """A video made in one streamed chat answer: the text reveals the task id (Submitted), the
    progress (Progressed) and at the end the link; an answer that ends without one failed."""
    r = prepared.request
    state = ChatStreamState(ctx.secrets)
    timeout = prepared.timeout
    deadline = None if timeout is None else ctx.clock() + timeout
    yield Emit(Submitting(pending(prepared.dialect, model=r.model, prompt=r.prompt)))
    stream = yield from flows.send(prepared.create, ctx.policy, stream=True, deadline=deadline)
    last: Job | None = None
    submitted = False
    while (event := (yield from next_event(stream, state, deadline))) is not None:
        job = state.job(
            dialect=prepared.dialect.name, model=r.model, prompt=r.prompt, with_text=False
        )
        yield Emit(Text(event, job))
        if job.status == "failed":  # only once the answer is complete: decided below
            continue
        if job.id and not submitted:
            submitted = True
            yield Emit(Submitted(job))
        elif job.changed_from(last):
            yield Emit(Progressed(job))
        last = job
    if not state.complete:
        raise interrupted(state, None)
    job = state.job(dialect=prepared.dialect.name, model=r.model, prompt=r.prompt)
    if job.status != "completed":
        raise E.GenerationFailed(
            f"video through chat failed: {job.error}", job=job, reason=job.error
        )
    return job


def download(
    job: Job,
    ctx: Context,
    dest: str | Path,
    *,
    variant: str = "video",
    filename: str | None = None,
) -> Flow:
    """Fetch the job's file into ``dest`` (a folder, or a file path) and report it Saved."""
    if not isinstance(job, Job):
        raise E.ValidationError("download() takes a Job (from wait/generate_video)")
    check_variant(variant)
    url = job.video_url if variant == "video" else job.thumbnail_url
    family = dialects.get(job.dialect) if job.dialect in dialects.names() else None
    if family is not None and family.abilities.content and (variant != "video" or not url):
        request = family.build_content(job.id, variant)
    elif url:
        try:
            scheme = urlsplit(url).scheme
        except ValueError:
            raise E.ProtocolError(
                f"cannot request the gateway's link {url[:80]!r}: it is not a valid URL"
            ) from None
        if scheme not in ("http", "https"):
            raise E.ProtocolError(f"refusing to download from a non-http(s) link: {url[:80]!r}")
        request = HttpRequest("GET", url, "content")
    else:
        raise E.ValidationError(f"job {job.id} has no {variant} to download (status {job.status})")
    folder = Path(dest)
    if filename is None and folder.suffix.lower() in _MEDIA_SUFFIXES:
        folder, filename = folder.parent, folder.name
    if filename:
        name = safe_filename(filename)
    else:
        guessed = mimetypes.guess_type((url or "").split("?")[0])[0]
        ext = (
            ".mp4" if variant == "video" else (mimetypes.guess_extension(guessed or "") or ".webp")
        )
        suffix = "" if variant == "video" else f".{variant}"
        name = safe_filename(job.id or "video") + suffix + ext
    target = folder / name
    if target.resolve().parent != folder.resolve():
        raise E.ValidationError(f"file name {name!r} escapes the folder {str(folder)!r}")
    # A video must be a video; an image (a thumbnail, or %%sora_image's file) is kept as sent.
    image = variant != "video" or target.suffix.lower() in _IMAGE_SUFFIXES
    expect = None if image else "video"
    path = yield from flows.download(request, target, ctx.policy, expect=expect)
    yield Emit(Saved(job, path))
    return path


# -- streamed chat -------------------------------------------------------------------------------


def interrupted(state: ChatStreamState, cause: E.SoraError | None) -> E.StreamInterrupted:
    """The error for a stream that ended early: it keeps the text and the task id seen."""
    scanner = state.scanner
    scanner.close()
    tail = f" ({cause})" if cause else ""
    hint = f"; the video task id was {scanner.task_id}" if scanner.task_id else ""
    return E.StreamInterrupted(
        f"the stream ended early, after {len(state.text)} characters{hint}{tail}",
        text=state.text,
        task_id=scanner.task_id,
        video_urls=tuple(scanner.video_urls),
    )


def next_event(stream: Any, state: ChatStreamState, deadline: float | None = None) -> Flow:
    """Read ``stream`` until ``state`` has something new to report; None at the end.

    ``deadline``: past it the stream is closed and :class:`StreamInterrupted` (keeping the text
    and the task id seen) says the time was up."""
    while not state.done:
        try:
            data = yield Receive(stream, deadline)
        except E.SoraError as exc:
            raise interrupted(state, exc) from None
        if data is None:
            return None
        if isinstance(data, Whole):
            # Some relays ignore ``stream: true`` and answer with one JSON object.
            body = _errors.load_json(data.content, what="reading the chat answer")
            whole = completion_state(body)
            state.__dict__.update(whole.__dict__)
            return state.event(state.text, body)
        try:
            event = state.feed(data)
        except E.ProtocolError as exc:
            raise interrupted(state, exc) from None
        if event is not None:
            return event
    return None


def chat_stream(request: HttpRequest, ctx: Context) -> Flow:
    """A streamed chat answer: one Text event per piece; StreamInterrupted if it ends early."""
    state = ChatStreamState(ctx.secrets)
    stream = yield from flows.send(request, ctx.policy, stream=True)
    while (event := (yield from next_event(stream, state))) is not None:
        yield Emit(Text(event))
    if state.error is not None:
        # An error object sent inside the stream is the gateway's answer, with its own words.
        raise _errors.refusal({"error": state.error}, what="streaming the chat answer") or (
            E.GatewayError(f"the gateway sent an error: {state.error}", status_code=200)
        )
    if not state.complete:
        raise interrupted(state, None)
    return state


def chat_reply(ctx: Context) -> Callable[[Reply], ChatEvent]:
    return lambda r: parse_chat_completion(ctx.load(r, "reading the chat answer"))


def jobs_page(ctx: Context, dialect: Dialect) -> Callable[[Reply], list[Job]]:
    return lambda r: dialect.parse_list(ctx.load(r, "listing videos"))[0]


def ignore(_reply: Reply) -> None:
    return None
