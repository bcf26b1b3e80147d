"""flows: the wait / send generators driven by hand, with a fake clock."""

from __future__ import annotations

import json
import random

import pytest

from sora_nb import _errors, flows
from sora_nb import _exceptions as E
from sora_nb.dialects import chat, openai, unified
from sora_nb.flows import MAX_POLL_FAILURES, Emit, Reply, Send, Sleep
from sora_nb.models import Job, VideoRequest
from sora_nb.polling import PollSchedule
from sora_nb.retry import RetryPolicy

JOB_ID = "sora-2:task_01k6x15vhrff09dkkqjrzwhm60"


class Clock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def answer(status, progress=None, **extra):
    body = {"id": JOB_ID, "status": status, "status_update_time": 1759763427208}
    if progress is not None:
        body["progress"] = progress
    body.update(extra)
    return body


def reply(body, headers=None, status=200):
    return Reply(status, headers or {}, json.dumps(body).encode())


def parse_unified(r):
    body = _errors.load_json(r.content, what="reading the video job")
    return unified.parse_job(body, r.headers)


def parse_openai(r):
    body = _errors.load_json(r.content, what="reading the video job")
    return openai.parse_job(body, r.headers)


class Driver:
    """Runs a flow: answers each Send from ``script`` (a Reply, or an exception to throw)."""

    def __init__(self, script, clock=None):
        self.script = list(script)
        self.clock = clock or Clock()
        self.steps = []
        self.sent = []

    @property
    def sleeps(self):
        return [s.seconds for s in self.steps if isinstance(s, Sleep)]

    @property
    def notified(self):
        return [s.event.job for s in self.steps if isinstance(s, Emit)]

    def run(self, flow):
        value = None
        try:
            step = next(flow)
            while True:
                self.steps.append(step)
                if isinstance(step, Send):
                    self.sent.append(step.request)
                    item = self.script.pop(0) if self.script else self.default()
                    if isinstance(item, BaseException):
                        step = flow.throw(item)
                        continue
                    value = item
                elif isinstance(step, Sleep):
                    assert step.seconds >= 0
                    self.clock.now += step.seconds
                    value = None
                elif isinstance(step, Emit):
                    value = None
                else:  # pragma: no cover
                    raise AssertionError(f"unexpected step {step!r}")
                step = flow.send(value)
        except StopIteration as stop:
            return stop.value

    def default(self):
        raise AssertionError("the flow sent more requests than scripted")


def wait_flow(clock, *, timeout=None, policy=None, schedule=None, dialect=unified, last=None):
    family = dialect.OPENAI if dialect is openai else dialect.UNIFIED
    return flows.wait(
        JOB_ID,
        dialect=family,
        policy=policy or RetryPolicy(rng=random.Random(0)),
        schedule=schedule or PollSchedule(),
        clock=clock,
        timeout=timeout,
        parse=parse_openai if dialect is openai else parse_unified,
        last=last,
    )


# --- wait -----------------------------------------------------------------------------------


def test_wait_returns_completed_job_and_notifies_only_on_change():
    script = [
        reply(answer("pending", 0)),
        reply(answer("pending", 0)),
        reply(answer("processing", 40)),
        reply(answer("processing", 40)),
        reply(answer("processing", 75)),
        reply(answer("completed", video_url="https://cdn.example/v.mp4")),
    ]
    driver = Driver(script)
    job = driver.run(wait_flow(driver.clock))
    assert job.status == "completed"
    assert job.video_url == "https://cdn.example/v.mp4"
    assert job.progress == 100.0
    seen = [(j.status, j.progress) for j in driver.notified]
    assert seen == [
        ("queued", 0.0),
        ("in_progress", 40.0),
        ("in_progress", 75.0),
        ("completed", 100.0),
    ]
    assert len(driver.sent) == 6
    assert all(r.kind == "poll" and r.params == {"id": JOB_ID} for r in driver.sent)
    assert len(driver.sleeps) == 5


def test_wait_with_last_equal_to_first_answer_does_not_renotify():
    last = unified.parse_job(answer("pending", 0))
    driver = Driver([reply(answer("pending", 0)), reply(answer("completed"))])
    driver.run(wait_flow(driver.clock, last=last))
    assert [j.status for j in driver.notified] == ["completed"]


def test_wait_openai_uses_retrieve_and_poll_hint():
    body = {"id": "video_1", "object": "video", "status": "in_progress", "progress": 10}
    done = {**body, "status": "completed", "progress": 100}
    driver = Driver([reply(body, {"openai-poll-after-ms": "7000"}), reply(done)])
    job = driver.run(wait_flow(driver.clock, dialect=openai))
    assert job.ok
    assert driver.sent[0].path == f"videos/{'sora-2%3Atask_01k6x15vhrff09dkkqjrzwhm60'}"
    assert driver.sleeps[0] >= 7.0


def test_wait_failed_raises_with_reason():
    bad = answer("failed", error="content policy violation")
    driver = Driver([reply(answer("processing", 50)), reply(bad)])
    with pytest.raises(E.GenerationFailed) as info:
        driver.run(wait_flow(driver.clock))
    assert info.value.reason == "content policy violation"
    assert info.value.job.status == "failed"
    assert "content policy violation" in str(info.value)
    assert JOB_ID in str(info.value)
    # The failed state was shown before the error.
    assert driver.notified[-1].status == "failed"


def test_wait_failed_reason_from_failure_reason_only():
    body = answer("failed")
    body["detail"] = {"pending_info": {"failure_reason": "upstream rejected"}}
    driver = Driver([reply(body)])
    with pytest.raises(E.GenerationFailed) as info:
        driver.run(wait_flow(driver.clock))
    assert info.value.reason == "upstream rejected"


def test_wait_cancelled_raises_without_reason():
    driver = Driver([reply(answer("cancelled"))])
    with pytest.raises(E.GenerationFailed) as info:
        driver.run(wait_flow(driver.clock))
    assert info.value.reason is None
    assert "cancelled" in str(info.value)


def test_wait_times_out_with_job_id_at_the_deadline():
    clock = Clock(500.0)
    driver = Driver([], clock)
    driver.default = lambda: reply(answer("processing", 30))
    with pytest.raises(E.PollTimeout) as info:
        driver.run(wait_flow(clock, timeout=60))
    exc = info.value
    assert exc.job_id == JOB_ID
    assert exc.job is not None and exc.job.progress == 30.0
    assert JOB_ID in str(exc) and "60s" in str(exc) and "30%" in str(exc)
    # The last wait was cut to the deadline, not past it.
    assert clock.now == pytest.approx(560.0)
    assert sum(driver.sleeps) == pytest.approx(60.0)
    assert "\n" not in str(exc)


def test_wait_timeout_while_every_poll_fails_reports_unknown_state():
    clock = Clock()
    driver = Driver([], clock)
    driver.default = lambda: E.ServerError("500", status_code=500)
    with pytest.raises(E.PollTimeout) as info:
        driver.run(wait_flow(clock, timeout=5))
    assert info.value.job is None
    assert "unknown" in str(info.value)
    assert clock.now == pytest.approx(1005.0)


def test_wait_rate_limit_retry_does_not_sleep_past_the_deadline():
    # A Retry-After longer than the time left must not carry the wait past its deadline.
    clock = Clock(0.0)
    limited = E.RateLimitError("429", status_code=429, retry_after=120.0)
    driver = Driver([limited], clock)
    driver.default = lambda: reply(answer("processing", 30))
    with pytest.raises(E.PollTimeout):
        driver.run(wait_flow(clock, timeout=30))
    assert clock.now <= 30.0 + 1e-6, driver.sleeps


@pytest.mark.parametrize("timeout", [0, -1])
def test_wait_rejects_non_positive_timeout(timeout):
    with pytest.raises(E.ValidationError):
        next(wait_flow(Clock(), timeout=timeout))


def transient_errors():
    return [
        E.ServerError("500 from the gateway", status_code=500),
        E.TransportError("connection reset"),
        E.ProtocolError("garbled"),
        E.TimeoutError("read timeout"),
        E.RateLimitError("429", status_code=429),
    ]


@pytest.mark.parametrize("error", transient_errors(), ids=lambda e: type(e).__name__)
def test_wait_tolerates_transient_failures_up_to_limit(error):
    policy = RetryPolicy(attempts=1)  # every failure reaches wait itself
    script = [error] * MAX_POLL_FAILURES + [reply(answer("completed"))]
    driver = Driver(script)
    job = driver.run(wait_flow(driver.clock, policy=policy))
    assert job.ok
    assert len(driver.sent) == MAX_POLL_FAILURES + 1


@pytest.mark.parametrize("error", transient_errors(), ids=lambda e: type(e).__name__)
def test_wait_reraises_after_too_many_failures_in_a_row(error):
    policy = RetryPolicy(attempts=1)
    script = [error] * (MAX_POLL_FAILURES + 1) + [reply(answer("completed"))]
    driver = Driver(script)
    with pytest.raises(type(error)) as info:
        driver.run(wait_flow(driver.clock, policy=policy))
    assert info.value is error
    assert len(driver.sent) == MAX_POLL_FAILURES + 1


def test_wait_with_retries_counts_whole_polls():
    # With the default policy each failed poll is itself several tries; the limit counts polls.
    policy = RetryPolicy(attempts=3, rng=random.Random(0))
    driver = Driver([])
    driver.default = lambda: E.TransportError("reset")
    with pytest.raises(E.TransportError):
        driver.run(wait_flow(driver.clock, policy=policy))
    assert len(driver.sent) == (MAX_POLL_FAILURES + 1) * 3


def test_wait_failure_count_resets_after_a_good_poll():
    policy = RetryPolicy(attempts=1)
    boom = E.ServerError("500", status_code=500)
    script = (
        [boom] * MAX_POLL_FAILURES
        + [reply(answer("processing", 10))]
        + [boom] * MAX_POLL_FAILURES
        + [reply(answer("completed"))]
    )
    driver = Driver(script)
    assert driver.run(wait_flow(driver.clock, policy=policy)).ok


def test_wait_malformed_answer_is_a_transient_protocol_error():
    policy = RetryPolicy(attempts=1)
    script = [Reply(200, {}, b"<html>oops</html>"), reply(answer("completed"))]
    driver = Driver(script)
    assert driver.run(wait_flow(driver.clock, policy=policy)).ok

    script = [Reply(200, {}, b"not json")] * (MAX_POLL_FAILURES + 1)
    driver = Driver(script)
    with pytest.raises(E.ProtocolError):
        driver.run(wait_flow(driver.clock, policy=policy))


def test_wait_failed_polls_back_off():
    policy = RetryPolicy(attempts=1)
    boom = E.ServerError("500", status_code=500)
    driver = Driver([boom, boom, boom, boom, reply(answer("completed"))])
    driver.run(wait_flow(driver.clock, policy=policy))
    sleeps = driver.sleeps
    assert len(sleeps) == 4
    for n, delay in enumerate(sleeps, start=1):
        assert delay >= min(30.0, 0.5 * 2.0**n)
    assert sleeps == sorted(sleeps)


def test_wait_with_policy_retries_inside_each_poll():
    # A reset on a read is retried by send() before wait counts it as a failed poll.
    reset = E.TransportError("reset")
    driver = Driver([reset, reset, reply(answer("completed"))])
    assert driver.run(wait_flow(driver.clock)).ok
    assert len(driver.sent) == 3


def test_wait_quota_exceeded_stops_at_once():
    quota = E.QuotaExceeded("429 quota", status_code=429)
    driver = Driver([quota, reply(answer("completed"))])
    with pytest.raises(E.QuotaExceeded):
        driver.run(wait_flow(driver.clock))
    assert len(driver.sent) == 1
    assert driver.sleeps == []


@pytest.mark.parametrize(
    "error",
    [
        E.NotFoundError("404", status_code=404),
        E.AuthenticationError("401", status_code=401),
        E.BadRequestError("400", status_code=400),
    ],
)
def test_wait_client_errors_stop_at_once(error):
    driver = Driver([error, reply(answer("completed"))])
    with pytest.raises(type(error)):
        driver.run(wait_flow(driver.clock))
    assert len(driver.sent) == 1


def test_wait_sleeps_follow_schedule_and_hint():
    schedule = PollSchedule(min_interval=2.0, max_interval=20.0)
    body = {"id": "video_1", "status": "queued"}
    driver = Driver(
        [
            reply(body),
            reply(body, {"openai-poll-after-ms": "12000"}),
            reply({**body, "status": "completed"}),
        ]
    )
    driver.run(wait_flow(driver.clock, dialect=openai, schedule=schedule))
    assert driver.sleeps[0] == 2.0
    assert driver.sleeps[1] == 12.0


# --- send -----------------------------------------------------------------------------------


def create_request():
    return unified.build_create(
        VideoRequest("make animate", "sora-2", orientation="portrait", size="small", duration=10)
    )


def test_send_returns_reply():
    ok = reply(answer("pending"))
    driver = Driver([ok])
    assert driver.run(flows.send(create_request(), RetryPolicy())) is ok
    assert [type(s) for s in driver.steps] == [Send]


def test_send_stream_flag_passed_on():
    flow = flows.send(
        chat.build_chat([{"role": "user", "content": "hi"}], model="sora-2"),
        RetryPolicy(),
        stream=True,
    )
    step = next(flow)
    assert isinstance(step, Send) and step.stream is True


def test_send_create_retries_connect_error():
    ok = reply(answer("pending"))
    driver = Driver([E.ConnectError("refused"), E.ConnectError("refused"), ok])
    assert driver.run(flows.send(create_request(), RetryPolicy(rng=random.Random(3)))) is ok
    assert len(driver.sent) == 3
    assert len(driver.sleeps) == 2


@pytest.mark.parametrize(
    "error", [E.TimeoutError("read timed out"), E.TransportError("connection reset by peer")]
)
def test_send_create_lost_answer_becomes_submission_unknown(error):
    driver = Driver([error, reply(answer("pending"))])
    with pytest.raises(E.SubmissionUnknown) as info:
        driver.run(flows.send(create_request(), RetryPolicy()))
    assert info.value.__cause__ is error
    assert str(error) in str(info.value)
    assert len(driver.sent) == 1
    assert driver.sleeps == []


def test_send_create_429_retried_after_retry_after():
    ok = reply(answer("pending"))
    limited = E.RateLimitError("429", status_code=429, retry_after=12.0)
    driver = Driver([limited, ok])
    assert driver.run(flows.send(create_request(), RetryPolicy())) is ok
    assert len(driver.sent) == 2
    assert len(driver.sleeps) == 1 and driver.sleeps[0] >= 12.0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_send_create_server_error_not_retried(status):
    error = E.ServerError(str(status), status_code=status)
    driver = Driver([error, reply(answer("pending"))])
    with pytest.raises(E.ServerError):
        driver.run(flows.send(create_request(), RetryPolicy()))
    assert len(driver.sent) == 1


def test_send_create_quota_not_retried():
    driver = Driver([E.QuotaExceeded("quota", status_code=429)])
    with pytest.raises(E.QuotaExceeded):
        driver.run(flows.send(create_request(), RetryPolicy()))
    assert len(driver.sent) == 1


def test_send_gives_up_after_attempts():
    error = E.ConnectError("refused")
    driver = Driver([error] * 10)
    with pytest.raises(E.ConnectError):
        driver.run(flows.send(create_request(), RetryPolicy(attempts=3)))
    assert len(driver.sent) == 3


def test_send_read_retries_timeout_and_502():
    ok = reply(answer("pending"))
    driver = Driver([E.TimeoutError("t"), E.ServerError("502", status_code=502), ok])
    assert driver.run(flows.send(unified.build_query(JOB_ID), RetryPolicy())) is ok
    assert len(driver.sent) == 3


def test_send_stream_interrupted_create_is_not_submission_unknown():
    request = chat.build_chat([{"role": "user", "content": "hi"}], model="sora-2")
    error = E.StreamInterrupted("cut", text="> ID: task_x", task_id="task_x")
    driver = Driver([error])
    with pytest.raises(E.StreamInterrupted):
        driver.run(flows.send(request, RetryPolicy()))


def test_call_parses_reply():
    driver = Driver([reply(answer("pending"))])
    job = driver.run(flows.call(unified.build_query(JOB_ID), RetryPolicy(), parse_unified))
    assert isinstance(job, Job) and job.id == JOB_ID and job.status == "queued"


def test_describe():
    assert flows.describe(create_request()) == "creating the video job"
    assert flows.describe(unified.build_query("x")) == "asking for the job's status"
    assert flows.describe(openai.build_content("x")) == "downloading the video"
    odd = flows.HttpRequest("GET", "models", "models")
    assert flows.describe(odd) == "calling models"


# --- many waits, one list -------------------------------------------------------------------


def _video(job_id, status, progress=None):
    return {"id": job_id, "object": "video", "status": status, "progress": progress}


def _page(reply_):
    from sora_nb import runs

    return runs.status_page(runs.Context(), openai.OPENAI)(reply_)


def test_a_wait_answered_from_a_list_it_fetched_for_every_wait():
    from sora_nb.polling import Board

    board = Board()
    board.join("video_b", 0.0)
    board.due("video_b", 1000.0)
    clock = Clock(1000.0)
    board.join("video_a", clock())
    flow = flows.status(
        "video_a",
        openai.build_retrieve("video_a"),
        openai.OPENAI,
        board,
        _page,
        RetryPolicy(),
        None,
        clock,
        999.0,
    )
    listing = next(flow)
    assert isinstance(listing, Send) and listing.request.kind == "list"
    page = {"data": [_video("video_a", "in_progress", 40), _video("video_b", "queued")]}
    with pytest.raises(StopIteration) as done:
        flow.send(reply(page))
    answer, as_of = done.value.value
    assert parse_openai(answer).progress == 40 and as_of == clock()
    # The other wait takes its answer from the board, with no request of its own.
    action, other, _ = board.ask("video_b", clock(), seen=999.0)
    assert action == "cached" and parse_openai(other).status == "queued"


def test_a_wait_alone_polls_its_own_job():
    from sora_nb.polling import Board

    board = Board()
    clock = Clock(1000.0)
    board.join("video_a", clock())
    flow = flows.status(
        "video_a",
        openai.build_retrieve("video_a"),
        openai.OPENAI,
        board,
        _page,
        RetryPolicy(),
        None,
        clock,
        999.0,
    )
    assert next(flow).request.kind == "poll"


def test_a_paced_429_is_sent_again_on_its_turn_until_the_deadline():
    clock = Clock(0.0)
    policy = RetryPolicy(attempts=2, paced=True)
    refusals = [E.RateLimitError("429", status_code=429) for _ in range(6)]
    driver = Driver([*refusals, reply(answer("pending"))], clock)
    flow = flows.send(unified.build_query(JOB_ID), policy, deadline=100.0, clock=clock)
    assert driver.run(flow).status == 200
    assert len(driver.sent) == 7 and driver.sleeps == []  # the budget's turn is the wait
    assert all(s.send_by == 100.0 for s in driver.steps if isinstance(s, Send))


def test_a_create_whose_turn_did_not_come_is_not_submission_unknown():
    request = openai.build_create(VideoRequest(prompt="a kite", model="sora-2"))
    driver = Driver([E.TurnTimeout("no turn in time; nothing was sent")])
    with pytest.raises(E.TurnTimeout):
        driver.run(flows.send(request, RetryPolicy(paced=True), deadline=5.0, clock=Clock()))
    assert len(driver.sent) == 1
