"""The steps every client operation is made of, and the primitives built from them.

A flow is a generator that yields steps (:class:`Send`, :class:`Sleep`, :class:`Fetch`,
:class:`Receive`, :class:`Emit`) and is sent back each step's result (a :class:`Reply` for Send).
Transport and gateway errors are thrown into the flow, which decides whether to retry. The two
drivers in ``client.py`` are the only code that does I/O, so the logic of retries, polling and
deadlines exists once (the pattern of httpx's ``auth_flow``). Pure: no sockets, no sleeping, no
clock of its own. The video lifecycle built from these is ``sora_nb.runs``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _exceptions as E
from .dialects import Dialect, HttpRequest
from .events import Progressed, RunEvent
from .models import Job
from .polling import Board, PollSchedule
from .retry import RetryPolicy

log = logging.getLogger("sora_nb")

# A poll may fail now and then (a 500, a reset, a malformed answer); the wait goes on through up
# to this many failures in a row before giving up.
MAX_POLL_FAILURES = 8

# A wait whose job's news comes from a list on its way looks again after RECHECK_FIRST seconds,
# twice as long each time after, up to RECHECK_MAX.
RECHECK_FIRST = 0.05
RECHECK_MAX = 1.0

# The last poll of a wait goes out at its deadline: its answer may take this long to arrive
# (a drip-fed one is cut there), so a wait ends at most this much after its timeout.
READ_GRACE = 2.0


@dataclass(frozen=True)
class Reply:
    """An HTTP answer with a 2xx/3xx status, fully read."""

    status: int
    headers: Mapping[str, str]
    content: bytes


@dataclass(frozen=True)
class Send:
    """Send ``request`` once. The driver first waits for the request's turn in the gateway's
    request budget (``sora_nb.budget``); a turn that would come after ``send_by`` is a
    :class:`TurnTimeout`, and nothing is sent."""

    request: HttpRequest
    stream: bool = False  # the driver hands back the open response instead of a Reply
    # The answer must be in by then (the flow's clock): a gateway that drips its answer byte by
    # byte cannot hold a wait past its timeout.
    deadline: float | None = None
    send_by: float | None = None  # the latest its turn may come (None: the client's timeout)


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Emit:
    """Report ``event`` to whoever listens (journal, status line, ``on_update``). The driver
    handles it before taking the next step, so a Submitted job is journaled before any wait."""

    event: RunEvent


@dataclass(frozen=True)
class Fetch:
    """Stream ``request``'s body to ``target`` (under a temporary name until complete).

    ``expect``: what the file must be (``"video"``: its first bytes are a video container's, see
    ``files.media_kind``); anything else (an HTML error page with status 200) is refused and
    nothing is left under ``target``'s name.
    """

    request: HttpRequest
    target: Path
    expect: str | None = "video"


@dataclass(frozen=True)
class Receive:
    """The next Server-Sent Event's ``data`` from ``stream`` (an open response a streamed Send
    returned), as text; :class:`Whole` when the gateway answered with one body instead of a
    stream; None at the end."""

    stream: Any
    deadline: float | None = None  # the flow's clock: no event by then is a TimeoutError


@dataclass(frozen=True)
class Whole:
    """A streamed request answered with one body (some relays ignore ``stream: true``)."""

    content: bytes


Step = Send | Sleep | Emit | Fetch | Receive
Flow = Generator[Step, Any, Any]

_WHAT = {
    "create": "creating the video job",
    "poll": "asking for the job's status",
    "list": "listing videos",
    "delete": "deleting the video",
    "remix": "creating the remix",
    "content": "downloading the video",
    "chat": "sending the chat request",
    "images": "generating images",
}


def describe(request: HttpRequest) -> str:
    """What a request is doing, for error messages ("… while creating the video job")."""
    return _WHAT.get(request.kind, f"calling {request.path}")


def send(
    request: HttpRequest,
    policy: RetryPolicy,
    *,
    stream: bool = False,
    deadline: float | None = None,
    clock: Callable[[], float] | None = None,
) -> Flow:
    """Send ``request``, retrying as ``policy`` allows. Returns the Reply (or open response).

    With a ``deadline`` (and its ``clock``), no retry waits past it, and no turn comes after it:
    the error is raised instead. The answer to a poll or a stream must be in by the deadline
    (and READ_GRACE); a create, once sent, has the client's own timeout to answer.
    """
    attempt = 0
    read_by = None
    if deadline is not None and (stream or not request.creates):
        read_by = deadline + READ_GRACE
    while True:
        attempt += 1
        try:
            return (yield Send(request, stream=stream, deadline=read_by, send_by=deadline))
        except E.SoraError as exc:
            delay = policy.delay(
                exc, attempt, creates=request.creates, bounded=deadline is not None
            )
            if (
                delay is not None
                and deadline is not None
                and clock is not None
                and clock() + delay > deadline
            ):
                delay = None
            if delay is None:
                if (
                    request.creates
                    and isinstance(exc, E.TransportError)
                    and not isinstance(exc, E.ConnectError | E.StreamInterrupted | E.TurnTimeout)
                ):
                    raise E.SubmissionUnknown(
                        f"{exc} — the request may have reached the gateway, so it was not sent "
                        "again (that could start and bill a second job); check the gateway's job "
                        "list before retrying"
                    ) from exc
                raise
            log.info("retrying %s in %.1fs after: %s", request.kind, delay, exc)
            if delay > 0:
                yield Sleep(delay)


def call(request: HttpRequest, policy: RetryPolicy, parse: Callable[[Reply], Any]) -> Flow:
    """Send with retries and parse the answer."""
    reply = yield from send(request, policy)
    return parse(reply)


def download(
    request: HttpRequest, target: Path, policy: RetryPolicy, *, expect: str | None = "video"
) -> Flow:
    """Fetch to ``target``, starting again after a failure as ``policy`` allows (GET is safe)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return (yield Fetch(request, target, expect))
        except E.SoraError as exc:
            delay = policy.delay(exc, attempt, creates=False)
            if delay is None:
                raise
            log.info("download failed, starting again in %.1fs: %s", delay, exc)
            if delay > 0:
                yield Sleep(delay)


def wait(
    job_id: str,
    *,
    dialect: Dialect,
    policy: RetryPolicy,
    schedule: PollSchedule,
    clock: Callable[[], float],
    timeout: float | None,
    parse: Callable[[Reply], Job],
    last: Job | None = None,
    deadline: float | None = None,
    board: Board | None = None,
    page: Callable[[Reply], Page] | None = None,
) -> Flow:
    """Poll until the job ends. Returns the completed Job; raises GenerationFailed / PollTimeout.

    ``deadline``: when the wait ends (the flow's clock; default ``timeout`` from now, which the
    PollTimeout message names). ``board`` and ``page``: the status board of this gateway, key and
    family, and how a list answer becomes answers for each job (:func:`status`): where the
    family lists jobs, the waits of many jobs share its list requests.
    """
    if timeout is not None and timeout <= 0:
        raise E.ValidationError(f"timeout must be a positive number of seconds, not {timeout!r}")
    request = dialect.build_poll(job_id)
    if deadline is None and timeout is not None:
        deadline = clock() + timeout
    if not dialect.abilities.list or page is None:
        board = None
    failures = 0
    seen = clock()  # how fresh the news this wait last had is
    if board is not None:
        board.join(job_id, seen)
    try:
        if last is not None and not last.done:
            # The create's answer is as fresh as a poll would be: wait before asking again.
            pause = schedule.next_delay(clock(), hint=last.poll_after, deadline=deadline)
            if board is not None:
                board.due(job_id, clock() + pause)
            yield Sleep(pause)
        while True:
            job: Job | None = None
            try:
                reply, seen = yield from status(
                    job_id, request, dialect, board, page, policy, deadline, clock, seen
                )
                if reply is not None:
                    job = parse(reply)
                    failures = 0
            except E.TurnTimeout as exc:
                raise E.PollTimeout(
                    f"{timeout_summary(job_id, last, timeout)} ({exc}); it may still finish: "
                    "wait for it again by its id",
                    job_id=job_id,
                    job=last,
                ) from exc
            except (E.TransportError, E.ServerError, E.RateLimitError, E.ProtocolError) as exc:
                if isinstance(exc, E.QuotaExceeded):
                    raise
                failures += 1
                if failures > MAX_POLL_FAILURES:
                    raise
                log.info("poll %d of %s failed, going on: %s", failures, job_id, exc)
            if job is not None:
                if job.changed_from(last):
                    yield Emit(Progressed(job))
                last = job
                if job.status == "completed":
                    return job
                if job.done:
                    reason = job.error or f"the gateway reported the job {job.status}"
                    raise E.GenerationFailed(
                        f"video job {job_id} {job.status}: {reason}", job=job, reason=job.error
                    )
                schedule.observe(clock(), job.progress)
            now = clock()
            if deadline is not None and now >= deadline:
                raise E.PollTimeout(
                    f"{timeout_summary(job_id, last, timeout)}; it may still finish: wait for "
                    "it again by its id",
                    job_id=job_id,
                    job=last,
                )
            hint = job.poll_after if job is not None else None
            backoff = failures if job is None else 0  # the poll failed: the schedule backs off
            pause = schedule.next_delay(now, hint=hint, deadline=deadline, failures=backoff)
            if board is not None:
                board.due(job_id, now + pause)
            yield Sleep(pause)
    finally:
        if board is not None:
            board.leave(job_id)


# A list answer: each listed job's own answer (as a poll of it would have come), by id, and the
# cursor of the next page (None at the end).
Page = tuple[dict[str, Reply], "str | None"]


def status(
    job_id: str,
    request: HttpRequest,
    dialect: Dialect,
    board: Board | None,
    page: Callable[[Reply], Page] | None,
    policy: RetryPolicy,
    deadline: float | None,
    clock: Callable[[], float],
    seen: float,
) -> Flow:
    """One status answer for the wait of ``job_id``, and how fresh it is: ``(reply, as_of)``.

    With a ``board`` (other waits on the same gateway, key and family), a list answer newer than
    ``seen`` serves it; when a list is on its way, it waits for it; when at least two waits are
    due, it fetches the list for all of them. Otherwise (or when its job is not in the list) it
    polls on its own. ``(None, seen)``: the deadline passed while it waited for a list.
    """
    rest = RECHECK_FIRST
    asked = clock()
    while board is not None and page is not None:
        now = clock()
        action, payload, taken = board.ask(job_id, now, seen, asked)
        if action == "cached":
            return payload, taken
        if action == "wait":
            if deadline is not None and now >= deadline:
                return None, seen
            pause = rest if deadline is None else min(rest, max(0.0, deadline - now))
            rest = min(RECHECK_MAX, rest * 2)
            yield Sleep(pause)
            continue
        if action == "list":
            yield from list_for(board, dialect, page, policy, deadline, clock)
            continue
        break
    reply = yield from send(request, policy, deadline=deadline, clock=clock)
    return reply, clock()


def list_for(
    board: Board,
    dialect: Dialect,
    page: Callable[[Reply], Page],
    policy: RetryPolicy,
    deadline: float | None,
    clock: Callable[[], float],
) -> Flow:
    """Fetch the list pages the board's waits need (until each job is found, the list ends, or
    ``board.pages()`` pages), and post them on the board. A failure is the board's to know: the
    waits poll on their own meanwhile (for good when the gateway has no list route)."""
    found: dict[str, Reply] = {}
    posted = False
    try:
        cursor: str | None = None
        fetched = 0
        while True:
            request = dialect.build_list(after=cursor, limit=board.page_size, order="desc")
            reply = yield from send(request, policy, deadline=deadline, clock=clock)
            items, cursor = page(reply)
            found.update(items)
            fetched += 1
            # The waits to serve are those waiting now (more may have come while it queued).
            if cursor is None or fetched >= board.pages() or not board.missing(set(found)):
                break
        board.listed(found, clock())
        posted = True
    except (E.NotFoundError, E.BadRequestError) as exc:
        # No list route here (new-api's /v1/videos has none), or one that takes other words.
        log.info("listing jobs failed, each wait polls on its own: %s", exc)
        board.list_failed(clock(), permanent=True)
        posted = True
    except E.SoraError as exc:
        log.info("listing jobs failed, polling on its own for now: %s", exc)
        board.list_failed(clock(), permanent=False)
        posted = True
        if isinstance(exc, E.TurnTimeout):
            raise
    finally:
        if not posted:  # the flow was closed (an interrupt): others must not wait for it
            board.list_failed(clock(), permanent=False)


def timeout_summary(job_id: str, last: Job | None, timeout: float | None) -> str:
    """ "video job X still in_progress at 40% after 30s" """
    state = "in an unknown state"
    if last is not None:
        state = last.status + (f" at {last.progress:.0f}%" if last.progress is not None else "")
    return f"video job {job_id} still {state} after {timeout:g}s"
