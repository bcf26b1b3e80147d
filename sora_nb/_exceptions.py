"""sora_nb's error tree.

Every failure a user can meet is one of these; transport and gateway errors are translated into
them in exactly one module, ``sora_nb._errors`` (``from_reply`` for an HTTP error answer,
``from_transport`` for a failure with no answer)::

    SoraError
    ├── ConfigError             bad or missing configuration (base URL, dialect, key)
    ├── ValidationError         a request that cannot succeed; caught before anything is sent
    ├── TransportError          the gateway could not be reached, or the connection broke
    │   ├── ConnectError        the request never reached the gateway (safe to retry)
    │   │   └── CertificateError  its TLS certificate did not verify (no retry helps)
    │   ├── TimeoutError        no answer in time (the request may have reached the gateway)
    │   │   └── TurnTimeout     the gateway's rate limit gave no turn in time: nothing was sent
    │   ├── SubmissionUnknown   a create request was sent but its answer was lost: the job may exist
    │   └── StreamInterrupted   a streamed answer ended early; keeps the text received so far
    ├── GatewayError            the gateway answered with an HTTP error
    │   ├── BadRequestError     400 / 422
    │   ├── AuthenticationError 401 / 403
    │   ├── NotFoundError       404
    │   ├── RateLimitError      429 (``retry_after`` when the gateway said)
    │   │   └── QuotaExceeded   429 saying the balance is empty: no retry helps
    │   └── ServerError         5xx
    ├── ProtocolError           an answer sora_nb could not understand (e.g. malformed JSON)
    ├── GenerationFailed        the job ended failed or cancelled; carries the gateway's reason
    └── PollTimeout             the deadline passed before the job finished; carries the job id

Messages are one line, name the status code and the gateway's own words, and never contain the
API key (``sora_nb._secret.scrub`` removes it from anything a gateway sends back).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Job

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "CertificateError",
    "ConfigError",
    "ConnectError",
    "GatewayError",
    "GenerationFailed",
    "NotFoundError",
    "PollTimeout",
    "ProtocolError",
    "QuotaExceeded",
    "RateLimitError",
    "RulesNote",
    "ServerError",
    "SoraError",
    "StreamInterrupted",
    "SubmissionUnknown",
    "TimeoutError",
    "TransportError",
    "TurnTimeout",
    "ValidationError",
]


class SoraError(Exception):
    """Base of every error sora_nb raises.

    Errors pickle whole (a ProcessPoolExecutor worker, a multiprocessing queue): the default
    would call the class again with only the message, which loses (or, for the keyword-only
    arguments below, fails on) ``job_id``, ``status_code``, ``retry_after``…
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.args, dict(self.__dict__)))


class ConfigError(SoraError, ValueError):
    """Bad or missing configuration: base URL, dialect, API key."""


class ValidationError(SoraError, ValueError):
    """A request that cannot succeed (e.g. a size the model does not offer). Nothing was sent."""


class TransportError(SoraError):
    """The gateway could not be reached, or the connection broke."""


class ConnectError(TransportError):
    """The request never reached the gateway."""


class CertificateError(ConnectError):
    """The gateway's TLS certificate did not verify. Not retried: trying again cannot help.
    Turn verification off only by name (``verify=False``), for a gateway you trust."""


class TimeoutError(TransportError):
    """The gateway did not answer in time."""


class TurnTimeout(TimeoutError):
    """The request's turn in the gateway's request budget (its rate limit, as learned from its
    answers) would have come after the deadline: it was not sent at all, so a create made no
    job and may be tried again."""


class SubmissionUnknown(TransportError):
    """A create request was sent, but its answer was lost.

    The job may exist on the gateway (and be billed). sora_nb never resends a create in that case,
    because it cannot know whether the first one arrived.
    """


class StreamInterrupted(TransportError):
    """A streamed answer ended before the gateway said it was complete.

    ``text`` keeps everything received so far, ``task_id`` the video task id if one was seen and
    ``video_urls`` the links seen, so nothing already paid for is lost.
    """

    def __init__(
        self,
        message: str,
        *,
        text: str = "",
        task_id: str | None = None,
        video_urls: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.text = text
        self.task_id = task_id
        self.video_urls = video_urls


class GatewayError(SoraError):
    """The gateway answered with an HTTP error status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        error_type: str | None = None,
        code: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_type = error_type
        self.code = code
        self.body = body


class BadRequestError(GatewayError):
    """400 / 422: the gateway rejected the parameters."""


class AuthenticationError(GatewayError):
    """401 / 403: the key is missing, wrong, or not allowed to do this."""


class NotFoundError(GatewayError):
    """404: no such job, model or route."""


class RateLimitError(GatewayError):
    """429: too many requests. ``retry_after`` (seconds) when the gateway said."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class QuotaExceeded(RateLimitError):
    """429 saying the balance or quota is used up: waiting does not help."""


class ServerError(GatewayError):
    """5xx: the gateway or its upstream failed."""


class ProtocolError(SoraError):
    """An answer sora_nb could not understand."""


class GenerationFailed(SoraError):
    """The job ended without a video. ``reason`` is the gateway's own explanation."""

    def __init__(self, message: str, *, job: Job, reason: str | None) -> None:
        super().__init__(message)
        self.job = job
        self.reason = reason


class PollTimeout(SoraError):
    """The deadline passed while the job was still running. It may still finish: resume by id."""

    def __init__(self, message: str, *, job_id: str, job: Job | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.job = job


def _restore(cls: type[SoraError], args: tuple[Any, ...], state: dict[str, Any]) -> SoraError:
    """A pickled error, rebuilt without calling ``__init__`` (its keyword arguments are in
    ``state`` already, as attributes)."""
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class RulesNote(UserWarning):
    """A warning, not an error: a value outside the model rules sora_nb knows was sent to a relay
    whose rules it does not know (``capabilities.is_strict``). The relay's own refusal, if any,
    is the answer."""
