"""The client's configuration, and each public call as a flow, shared by both clients. No I/O.

:class:`ClientCore` checks the options once and turns every public call into a flow (``flows``,
``runs``); ``client.py`` only performs the steps. Videos always go through ``runs.video``.
"""

from __future__ import annotations

import os
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import _exceptions as E
from . import budget, dialects, flows, runs
from ._secret import Secret
from .capabilities import is_strict
from .config import DEFAULT_MODEL, resolve_api_key, resolve_base_url, resolve_dialect
from .dialects import Dialect, HttpRequest, chat, images
from .events import Progressed, RunEvent, Submitted
from .files import image_list
from .journal import Journal, JournalWriter
from .models import Job, VideoRequest
from .retry import RetryPolicy

OnEvent = Callable[[RunEvent], Any]


def _check_id(job_id: object) -> None:
    if not isinstance(job_id, str) or not job_id.strip():
        raise E.ValidationError(f"a job id is needed, not {job_id!r}")


class ClientCore:
    """Configuration, and every call as a flow. Both clients inherit it; neither adds logic."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        dialect: str | None = None,
        *,
        model: str = DEFAULT_MODEL,
        timeout: float = 60.0,
        stream_timeout: float = 900.0,
        poll_interval: float = 1.0,
        max_poll_interval: float = 30.0,
        retries: int = 4,
        verify: bool = True,
        clock: Callable[[], float] = time.monotonic,
        journal: Journal | bool | None = None,
    ) -> None:
        self.base_url = resolve_base_url(base_url)
        self.dialect = resolve_dialect(dialect)
        self._key = Secret(resolve_api_key(api_key))
        key = self._key.reveal() or ""
        if key and (not key.isascii() or not key.isprintable() or " " in key):
            # It would fail deep inside httpx (UnicodeEncodeError) on the first request.
            raise E.ConfigError(
                "the API key has characters an HTTP header cannot carry (spaces, line breaks or "
                "non-ASCII): check that it was copied whole"
            )
        self.model = model
        for name, value in (
            ("timeout", timeout),
            ("stream_timeout", stream_timeout),
            ("poll_interval", poll_interval),
            ("max_poll_interval", max_poll_interval),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e9:
                raise E.ConfigError(f"{name} must be a positive number of seconds, not {value!r}")
        if max_poll_interval < poll_interval:
            raise E.ConfigError("max_poll_interval must be at least poll_interval")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise E.ConfigError(f"retries must be a whole number >= 0, not {retries!r}")
        if not isinstance(verify, bool):
            raise E.ConfigError("verify must be True or False (turn TLS checks off by name)")
        self.timeout = float(timeout)
        self.stream_timeout = float(stream_timeout)
        self.poll_interval = float(poll_interval)
        self.max_poll_interval = float(max_poll_interval)
        # Every gateway request waits its turn in the budget of this gateway and key, which the
        # process's other clients of them share (the kernel's cells, the panel, a script's
        # clients); a client on a clock of its own keeps a budget of its own.
        shared = clock is time.monotonic
        self.budget = (
            budget.for_gateway(self.base_url, key)
            if shared
            else budget.Budget(budget.gateway(self.base_url), budget.fingerprint(key))
        )
        self.retry_policy = RetryPolicy(attempts=retries + 1, paced=True)
        self.verify = verify
        self._clock = clock
        # journal=True: the per-user journal the magics use; a Journal: that one; else none.
        self.journal = Journal() if journal is True else journal or None
        self.ctx = runs.Context(
            policy=self.retry_policy,
            clock=clock,
            min_interval=self.poll_interval,
            max_interval=self.max_poll_interval,
            secrets=(self._key,),
            budget=self.budget,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, dialect={self.dialect!r}, "
            f"api_key={self._key!r})"
        )

    @property
    def has_key(self) -> bool:
        return bool(self._key)

    def _url(self, path: str) -> str:
        # Schemes are case-insensitive: "HTTP://cdn/x.mp4" is a link, not a path on the gateway
        # (which would have been sent the key).
        absolute = path[:8].lower().startswith(("http://", "https://"))
        return path if absolute else f"{self.base_url}/{path}"

    def _secrets(self) -> tuple[Secret]:
        return (self._key,)

    # -- listeners -------------------------------------------------------------------------------

    def _listener(
        self,
        on_update: Callable[[Job], Any] | None = None,
        on_event: OnEvent | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> OnEvent | None:
        """Who hears a run's events: the journal first (when the client keeps one), then
        ``on_event``, then ``on_update`` with the job of each submit and change."""
        writer = JournalWriter(self.journal, self.base_url, params) if self.journal else None
        if writer is None and on_event is None and on_update is None:
            return None

        def listen(event: RunEvent) -> Any:
            if writer is not None:
                writer(event)
            if on_event is not None:
                result = on_event(event)
                if result is not None:
                    return result
            if on_update is not None and _reports_job(event):
                return on_update(event.job)
            return None

        return listen

    # -- videos -----------------------------------------------------------------------------------

    def prepare(
        self,
        prompt: str,
        *,
        model: str | None = None,
        images: Iterable[str] | str | None = (),
        orientation: str | None = None,
        size: str | None = None,
        duration: float | None = None,
        dialect: str | Dialect | None = None,
        timeout: float | None = 900.0,
        extra: Mapping[str, Any] | None = None,
    ) -> runs.PreparedVideo:
        """A video request checked against the model's rules and shaped for the dialect, with
        its images read: what :meth:`run_video` sends. ValidationError before anything is sent."""
        request = VideoRequest(
            prompt=prompt,
            model=model or self.model,
            orientation=orientation,
            size=size,
            duration=duration,
            images=image_list(images),
            extra=dict(extra or {}),
        )
        prepared = runs.prepare(
            request, dialect or self.dialect, timeout=timeout, strict=is_strict(self.base_url)
        )
        for note in prepared.notes:
            warnings.warn(note, E.RulesNote, stacklevel=3)
        return prepared

    def _video_dialect(self, dialect: str | Dialect | None) -> Dialect:
        return dialects.get(dialect or self.dialect)

    def _create_flow(self, prepared: runs.PreparedVideo) -> flows.Flow:
        if prepared.dialect.abilities.streams:
            raise E.ValidationError(
                f"the {prepared.dialect.name} dialect makes a video in one streamed answer: "
                "use generate_video()"
            )
        return runs.create(prepared, self.ctx)

    def _get_job_flow(self, job_id: str, dialect: str | Dialect | None) -> flows.Flow:
        _check_id(job_id)
        family = self._video_dialect(dialect)
        return flows.call(
            family.build_poll(job_id), self.retry_policy, runs.job_parser(self.ctx, family)
        )

    def _wait_flow(
        self, job: Job | str, timeout: float | None, poll_interval: float | None
    ) -> flows.Flow:
        fresh = isinstance(job, Job)
        if not isinstance(job, Job):
            _check_id(job)
            job = Job(id=str(job), status="queued", dialect=self.dialect)
        family = dialects.get(job.dialect)
        if not family.abilities.poll:
            raise E.ValidationError(
                f"jobs made through the {family.name} dialect have no status route; their stream "
                "is the job (ask the gateway with dialect='unified' if it serves /video/query)"
            )
        runs.check_seconds("poll_interval", poll_interval)
        runs.check_seconds("timeout", timeout)
        return runs.wait(job, self.ctx, timeout=timeout, poll_interval=poll_interval, fresh=fresh)

    def prepare_chat(
        self,
        messages: str | Sequence[Mapping[str, Any]],
        *,
        model: str | None = None,
        stream: bool = True,
        timeout: float | None = None,
        **params: Any,
    ) -> runs.PreparedVideo:
        """A chat request to a video model, as a video run (its answer is the job): the same
        lifecycle as any video, reading the task, progress and link from the text."""
        request = self._chat_request(messages, model, stream, params)
        body = request.json
        prompt = str(body["messages"][-1].get("content", ""))
        return runs.PreparedVideo(
            VideoRequest(prompt=prompt, model=body["model"]), dialects.get("chat"), request, timeout
        )

    def _video_flow(
        self,
        prepared: runs.PreparedVideo | None,
        out_dir: Path | None,
        resume: Job | None,
        timeout: float | None,
    ) -> flows.Flow:
        if prepared is None and resume is None:
            raise E.ValidationError("run_video() needs a prepared request or a job to resume")
        model = prepared.request.model if prepared is not None else resume.model  # type: ignore[union-attr]
        return runs.video(
            prepared,
            self.ctx,
            out_dir=out_dir,
            resume=resume,
            timeout=timeout,
            expected_seconds=self._history(model),
        )

    def _history(self, model: str | None) -> float | None:
        """How long this model's jobs took on this gateway: the journal's memory, the poll
        schedule's prior for jobs that report little (none without a journal)."""
        if self.journal is None:
            return None
        try:
            return self.journal.typical_seconds(self.base_url, model)
        except sqlite3.Error:  # a locked or unreadable journal: poll without a prior
            return None

    def _download_flow(
        self, job: Job, dest: str | os.PathLike[str], variant: str, filename: str | None
    ) -> flows.Flow:
        return runs.download(job, self.ctx, Path(dest), variant=variant, filename=filename)

    def _list_flow(self, after: str | None, limit: int | None, order: str | None) -> flows.Flow:
        family = self._listing_dialect()
        request = family.build_list(after=after, limit=limit, order=order)
        return flows.call(request, self.retry_policy, runs.jobs_page(self.ctx, family))

    def _listing_dialect(self) -> Dialect:
        # Listing, deleting and remixing live on the /videos routes; a client configured for
        # another family still reaches them there (as it always did).
        family = self._video_dialect(None)
        return family if family.abilities.list else dialects.get("openai")

    def _delete_flow(self, job_id: str, dialect: str | Dialect | None = None) -> flows.Flow:
        _check_id(job_id)
        family = self._video_dialect(dialect)
        family = family if family.abilities.delete else dialects.get("openai")
        return flows.call(family.build_delete(job_id), self.retry_policy, runs.ignore)

    def _remix_flow(self, job_id: str, prompt: str) -> flows.Flow:
        _check_id(job_id)
        family = self._video_dialect(None)
        family = family if family.abilities.remix else dialects.get("openai")
        return runs.submit(
            family.build_remix(job_id, prompt),
            runs.job_parser(self.ctx, family, prompt=prompt),
            self.ctx,
            runs.pending(family, model=None, prompt=prompt),
        )

    # -- chat and images --------------------------------------------------------------------------

    def _chat_request(
        self,
        messages: str | Sequence[Mapping[str, Any]],
        model: str | None,
        stream: bool,
        params: Mapping[str, Any],
    ) -> HttpRequest:
        if isinstance(messages, str):
            if not messages.strip():
                raise E.ValidationError("the message is empty")
            messages = [{"role": "user", "content": messages}]
        if not messages:
            raise E.ValidationError("no messages to send")
        for m in messages:
            if not isinstance(m, Mapping) or "role" not in m or "content" not in m:
                raise E.ValidationError(f"each message needs a 'role' and 'content', got {m!r}")
        return chat.build_chat(messages, model=model or self.model, stream=stream, **params)

    def _chat_flow(
        self,
        messages: str | Sequence[Mapping[str, Any]],
        model: str | None,
        params: Mapping[str, Any],
    ) -> flows.Flow:
        request = self._chat_request(messages, model, False, params)
        return flows.call(request, self.retry_policy, runs.chat_reply(self.ctx))

    def _stream_flow(
        self,
        messages: str | Sequence[Mapping[str, Any]],
        model: str | None,
        params: Mapping[str, Any],
    ) -> flows.Flow:
        return runs.chat_stream(self._chat_request(messages, model, True, params), self.ctx)

    def _images_flow(
        self, prompt: str, model: str | None, n: int, size: str | None, params: Mapping[str, Any]
    ) -> flows.Flow:
        request = images.build_generate(prompt, model=model, n=n, size=size, **params)
        return flows.call(
            request,
            self.retry_policy,
            lambda r: images.parse_images(self.ctx.load(r, "generating images")),
        )


def _reports_job(event: RunEvent) -> bool:
    return isinstance(event, Submitted | Progressed)
