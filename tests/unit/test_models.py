"""models: status words, timestamps, progress, Job and ChatEvent helpers."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest

from sora_nb.models import (
    TERMINAL,
    ChatEvent,
    ImageResult,
    Job,
    VideoRequest,
    normalize_status,
    to_datetime,
    to_progress,
)

QUEUED = [
    "queued",
    "queue",
    "queueing",
    "pending",
    "submitted",
    "waiting",
    "created",
    "not_start",
    "not_started",
    "new",
    "scheduled",
]
RUNNING = [
    "in_progress",
    "processing",
    "running",
    "generating",
    "rendering",
    "started",
    "in_queue_processing",
    "progress",
    "working",
]
COMPLETED = [
    "completed",
    "complete",
    "succeeded",
    "success",
    "successful",
    "done",
    "finished",
    "ready",
    "succeed",
]
FAILED = [
    "failed",
    "failure",
    "fail",
    "error",
    "errored",
    "rejected",
    "expired",
    "timeout",
    "timed_out",
]
CANCELLED = ["cancelled", "canceled", "deleted", "aborted"]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (QUEUED, "queued"),
        (RUNNING, "in_progress"),
        (COMPLETED, "completed"),
        (FAILED, "failed"),
        (CANCELLED, "cancelled"),
    ],
)
def test_normalize_status_word_groups(words, expected):
    for word in words:
        assert normalize_status(word) == expected, word
        assert normalize_status(word.upper()) == expected, word
        assert normalize_status(f"  {word.title()} ") == expected, word


def test_normalize_status_spaces_and_dashes_are_underscores():
    assert normalize_status("in progress") == "in_progress"
    assert normalize_status("In-Progress") == "in_progress"
    assert normalize_status("timed out") == "failed"
    assert normalize_status("NOT-STARTED") == "queued"


@pytest.mark.parametrize("word", ["brewing", "almost_there", "", "   ", "complet", "finish"])
def test_unknown_status_words_mean_still_running(word):
    assert normalize_status(word) == "in_progress"


@pytest.mark.parametrize("value", [None, 1, 0, 2.5, True, False, ["completed"], {"s": "done"}])
def test_non_string_status_means_still_running(value):
    assert normalize_status(value) == "in_progress"


def test_terminal_set():
    assert frozenset({"completed", "failed", "cancelled"}) == TERMINAL


def test_to_datetime_milliseconds_and_seconds_agree():
    ms = to_datetime(1759763427208)
    s = to_datetime(1759763427)
    assert ms == datetime(2025, 10, 6, 15, 10, 27, 208000, tzinfo=timezone.utc)
    assert s == datetime(2025, 10, 6, 15, 10, 27, tzinfo=timezone.utc)
    assert ms.tzinfo is not None and s.tzinfo is not None


def test_to_datetime_float_seconds_and_numeric_text():
    assert to_datetime(1677652288.5) == datetime(2023, 3, 1, 6, 31, 28, 500000, tzinfo=timezone.utc)
    assert to_datetime("1759763427208") == to_datetime(1759763427208)
    assert to_datetime(" 1677652288 ") == datetime(2023, 3, 1, 6, 31, 28, tzinfo=timezone.utc)


def test_to_datetime_iso_text():
    assert to_datetime("2025-10-13T07:39:57Z") == datetime(
        2025, 10, 13, 7, 39, 57, tzinfo=timezone.utc
    )
    offset = to_datetime("2025-10-13T15:39:57+08:00")
    assert offset == datetime(2025, 10, 13, 7, 39, 57, tzinfo=timezone.utc)
    naive = to_datetime("2025-10-13 07:39:57")
    assert naive == datetime(2025, 10, 13, 7, 39, 57, tzinfo=timezone.utc)
    assert naive.tzinfo is not None


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -5,
        float("nan"),
        float("inf"),
        "",
        "   ",
        "yesterday",
        "2025-13-45",
        "nan",
        [],
        {},
        1e300,
    ],
)
def test_to_datetime_junk_is_none(value):
    assert to_datetime(value) is None


def test_to_progress_percent_and_fraction():
    assert to_progress(45) == 45.0
    assert to_progress(45.5) == 45.5
    assert to_progress(0.93, fraction=True) == 93.0
    assert to_progress(0, fraction=True) == 0.0
    assert to_progress(1, fraction=True) == 100.0
    assert to_progress("0.5", fraction=True) == 50.0


@pytest.mark.parametrize(
    ("text", "expected"), [("45%", 45.0), (" 45 % ", 45.0), ("12.5", 12.5), ("100%", 100.0)]
)
def test_to_progress_text(text, expected):
    assert to_progress(text) == expected


def test_to_progress_clamps():
    assert to_progress(150) == 100.0
    assert to_progress(-3) == 0.0
    assert to_progress(1.7, fraction=True) == 100.0
    assert to_progress("-10%") == 0.0


@pytest.mark.parametrize(
    "value",
    [None, True, False, float("nan"), float("inf"), -float("inf"), "nan", "abc", "", [], {}],
)
def test_to_progress_junk_is_none(value):
    assert to_progress(value) is None
    assert to_progress(value, fraction=True) is None


def test_to_progress_result_is_float():
    value = to_progress(7)
    assert isinstance(value, float) and not math.isnan(value)


def _job(**kw):
    base = {"id": "j1", "status": "in_progress", "dialect": "unified"}
    base.update(kw)
    return Job(**base)


@pytest.mark.parametrize(
    ("status", "done", "ok"),
    [
        ("queued", False, False),
        ("in_progress", False, False),
        ("completed", True, True),
        ("failed", True, False),
        ("cancelled", True, False),
    ],
)
def test_job_done_and_ok(status, done, ok):
    job = _job(status=status)
    assert job.done is done
    assert job.ok is ok


def test_job_changed_from():
    a = _job(progress=10.0)
    assert a.changed_from(None)
    assert not a.changed_from(_job(progress=10.0))
    # Fields a user does not see do not count, nor does raw.
    assert not a.changed_from(_job(progress=10.0, raw={"x": 1}, width=99, model="m"))
    assert a.changed_from(_job(progress=11.0))
    assert a.changed_from(_job(progress=10.0, status="queued"))
    assert a.changed_from(_job(progress=10.0, video_url="https://x/y.mp4"))
    assert a.changed_from(_job(progress=10.0, error="boom"))


def test_job_raw_excluded_from_eq_and_repr():
    a = _job(raw={"secret": "payload-xyz"})
    b = _job(raw={})
    assert a == b
    assert "payload-xyz" not in repr(a)


def test_chat_event_video_url_is_last_link():
    assert ChatEvent(text="", full_text="").video_url is None
    event = ChatEvent(text="", full_text="", video_urls=("https://a/1.mp4", "https://a/2.mp4"))
    assert event.video_url == "https://a/2.mp4"


def test_image_result_data():
    assert ImageResult(url="https://x/i.png").data() is None
    assert ImageResult(b64_json="aGVsbG8=").data() == b"hello"
    assert "aGVsbG8=" not in repr(ImageResult(b64_json="aGVsbG8="))


def test_video_request_defaults():
    req = VideoRequest(prompt="p", model="m")
    assert req.images == () and dict(req.extra) == {}
    assert req.orientation is None and req.size is None and req.duration is None
