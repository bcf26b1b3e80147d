"""Every error survives pickling with its attributes: a ProcessPoolExecutor, a multiprocessing
queue or a saved session hands the caller the same error, job id and all."""

from __future__ import annotations

import copy
import pickle
import sys

import pytest

import sora_nb
from sora_nb import _exceptions as E
from sora_nb.models import Job

JOB = Job("video_123", "failed", "openai", progress=40.0, model="sora-2", error="rejected")
BODY = {"error": {"message": "slow down", "type": "rate_limit", "code": "rpm"}}
GATEWAY_KW = {"status_code": 429, "error_type": "rate_limit", "code": "rpm", "body": BODY}

CASES = [
    E.SoraError("plain"),
    E.ConfigError("no base URL"),
    E.ValidationError("bad size"),
    E.TransportError("broken"),
    E.ConnectError("refused"),
    E.CertificateError("self-signed"),
    E.TimeoutError("slow"),
    E.TurnTimeout("no turn in time"),
    E.SubmissionUnknown("lost answer"),
    E.StreamInterrupted(
        "the stream ended early",
        text="> ID: task_abcdef01\n>🏃 进度 36%",
        task_id="task_abcdef01",
        video_urls=("https://cdn.example/a.mp4",),
    ),
    E.GatewayError("418 from the gateway", **{**GATEWAY_KW, "status_code": 418}),
    E.BadRequestError("400 bad", **{**GATEWAY_KW, "status_code": 400}),
    E.AuthenticationError("401 nope", **{**GATEWAY_KW, "status_code": 401}),
    E.NotFoundError("404 gone", **{**GATEWAY_KW, "status_code": 404}),
    E.RateLimitError("429 slow down", retry_after=12.5, **GATEWAY_KW),
    E.QuotaExceeded("429 balance used up", retry_after=None, **GATEWAY_KW),
    E.ServerError("502 upstream", **{**GATEWAY_KW, "status_code": 502}),
    E.ProtocolError("not JSON"),
    E.GenerationFailed("video job video_123 failed: rejected", job=JOB, reason="rejected"),
    E.PollTimeout("video job video_123 still in progress after 900s", job_id="video_123", job=JOB),
    E.PollTimeout("video job video_456 still queued", job_id="video_456"),
]


def test_every_error_class_is_covered():
    classes = {type(e) for e in CASES}
    public = {getattr(E, n) for n in E.__all__ if issubclass(getattr(E, n), E.SoraError)}
    assert public <= classes, sorted(c.__name__ for c in public - classes)


def same(a: BaseException, b: BaseException) -> None:
    assert type(b) is type(a)
    assert b.args == a.args
    assert str(b) == str(a)
    assert vars(b) == vars(a)


@pytest.mark.parametrize("error", CASES, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_round_trip_keeps_attributes(error, protocol):
    restored = pickle.loads(pickle.dumps(error, protocol=protocol))
    same(error, restored)


@pytest.mark.parametrize("error", CASES, ids=lambda e: type(e).__name__)
def test_copy_and_deepcopy_keep_attributes(error):
    same(error, copy.copy(error))
    same(error, copy.deepcopy(error))


def test_poll_timeout_job_id_survives_a_process_boundary():
    # What ProcessPoolExecutor does with an error raised in a worker.
    try:
        raise sora_nb.PollTimeout("still running after 900s", job_id="video_789")
    except sora_nb.PollTimeout as exc:
        data = pickle.dumps(exc)
    restored = pickle.loads(data)
    assert isinstance(restored, sora_nb.PollTimeout)
    assert restored.job_id == "video_789"
    assert restored.job is None
    with pytest.raises(sora_nb.PollTimeout, match="still running"):
        raise restored


def test_rate_limit_error_keeps_retry_after_and_gateway_fields():
    error = E.RateLimitError("429", retry_after=3.0, **GATEWAY_KW)
    restored = pickle.loads(pickle.dumps(error))
    assert restored.retry_after == 3.0
    assert (restored.status_code, restored.error_type, restored.code) == (429, "rate_limit", "rpm")
    assert restored.body == BODY


def test_attributes_set_after_raising_and_notes_survive():
    error = E.GenerationFailed("failed", job=JOB, reason="nsfw")
    if sys.version_info >= (3, 11):
        error.add_note("job video_123 on https://relay.example/v1")
    error.extra = "kept"  # type: ignore[attr-defined]
    restored = pickle.loads(pickle.dumps(error))
    assert restored.extra == "kept"
    assert restored.job == JOB and restored.reason == "nsfw"
    assert getattr(restored, "__notes__", None) == getattr(error, "__notes__", None)
