"""polling: PollSchedule in simulated time (nothing sleeps)."""

from __future__ import annotations

import itertools

import pytest

from sora_nb.polling import PollSchedule


def simulate(schedule, duration, *, start=0.0, deadline=None, hint=None, limit=10_000):
    """A job queued until ``start``, then linear to 100% over ``duration`` seconds.

    Polls from t=0 as the schedule says. Returns (times of every poll, time the end was seen).
    """
    end = start + duration
    t = 0.0
    polls = []
    while len(polls) < limit:
        polls.append(t)
        if t >= end:
            return polls, t
        progress = 0.0 if t < start else 100.0 * (t - start) / duration
        schedule.observe(t, progress)
        t += schedule.next_delay(t, hint=hint, deadline=deadline)
    raise AssertionError("the schedule never saw the end")


@pytest.mark.parametrize("duration", [20, 60, 180])
def test_linear_job_few_polls_and_seen_promptly(duration):
    schedule = PollSchedule()
    polls, seen = simulate(schedule, duration)
    assert len(polls) < duration / 10 + 2, polls
    late = seen - duration
    assert 0 <= late <= schedule.margin + schedule.min_interval, polls


@pytest.mark.parametrize("duration", [20, 60, 180])
@pytest.mark.parametrize(
    ("min_interval", "max_interval", "margin"), [(0.5, 10.0, 0.25), (2.0, 60.0, 1.0)]
)
def test_linear_job_other_settings(duration, min_interval, max_interval, margin):
    schedule = PollSchedule(min_interval=min_interval, max_interval=max_interval, margin=margin)
    polls, seen = simulate(schedule, duration)
    # Far from the end it refines every max_interval, so the count scales with that.
    assert len(polls) < duration / min(10.0, max_interval) + 3, polls
    assert 0 <= seen - duration <= margin + min_interval, polls
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    assert all(min_interval - 1e-9 <= g <= max_interval + 1e-9 for g in gaps), gaps


@pytest.mark.parametrize("queued", [5.0, 40.0])
@pytest.mark.parametrize("duration", [20, 60, 180])
def test_queued_phase_then_linear(queued, duration):
    schedule = PollSchedule()
    polls, seen = simulate(schedule, duration, start=queued)
    running = [t for t in polls if t > queued]
    assert len(running) < duration / 10 + 3, polls
    late = seen - (queued + duration)
    assert 0 <= late <= schedule.margin + schedule.min_interval, (late, polls)


def blind_delays(schedule, n):
    delays, now = [], 0.0
    for _ in range(n):
        schedule.observe(now, None)
        delays.append(schedule.next_delay(now))
        now += delays[-1]
    return delays


def test_blind_backoff_grows_by_growth_up_to_stall_interval():
    # A job that reports nothing may end at any moment: the back-off stops at stall_interval,
    # not at max_interval (which is for refining a trend whose end is far).
    schedule = PollSchedule(min_interval=1.0, max_interval=30.0, growth=2.0, stall_interval=10.0)
    assert blind_delays(schedule, 8) == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0]
    # A max_interval below stall_interval still bounds every wait.
    schedule = PollSchedule(min_interval=1.0, max_interval=5.0, growth=2.0, stall_interval=10.0)
    assert blind_delays(schedule, 5) == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_blind_backoff_default_growth():
    schedule = PollSchedule()
    delays = [schedule.next_delay(float(i)) for i in range(4)]
    assert delays == pytest.approx([1.0, 2.0, 4.0, 8.0])
    for _ in range(50):
        delay = schedule.next_delay(0.0)
    assert delay == schedule.stall_interval < schedule.max_interval


def test_zero_progress_is_blind_too():
    schedule = PollSchedule(min_interval=1.0, max_interval=30.0, growth=1.5)
    now, delays = 0.0, []
    for _ in range(5):
        schedule.observe(now, 0.0)
        delays.append(schedule.next_delay(now))
        now += delays[-1]
    assert delays == pytest.approx([1.0, 1.5, 2.25, 3.375, 5.0625])
    assert schedule.rate() is None


def test_hint_is_a_floor():
    schedule = PollSchedule()
    assert schedule.next_delay(0.0, hint=5.0) == 5.0
    # A hint longer than max_interval still wins: the server asked for it.
    assert schedule.next_delay(5.0, hint=45.0) == 45.0
    # A hint shorter than the schedule's own delay changes nothing.
    schedule2 = PollSchedule(min_interval=4.0, max_interval=30.0)
    assert schedule2.next_delay(0.0, hint=0.5) == 4.0


def test_hint_floor_with_progress_near_end():
    schedule = PollSchedule()
    schedule.observe(0.0, 10.0)
    schedule.observe(10.0, 90.0)  # 8%/s, end predicted at 11.25
    assert schedule.next_delay(10.0) == pytest.approx(1.25 + schedule.margin)
    assert schedule.next_delay(10.0, hint=6.0) == 6.0


def test_deadline_caps_every_wait():
    schedule = PollSchedule(max_interval=30.0)
    assert schedule.next_delay(0.0, deadline=0.4) == pytest.approx(0.4)
    assert schedule.next_delay(95.0, hint=20.0, deadline=100.0) == pytest.approx(5.0)
    assert schedule.next_delay(120.0, deadline=100.0) == 0.0


def test_deadline_in_simulation_last_poll_is_at_deadline():
    schedule = PollSchedule()
    polls, _ = simulate_until_deadline(schedule, deadline=100.0)
    assert polls[-1] == pytest.approx(100.0)
    assert all(t <= 100.0 + 1e-9 for t in polls)


def simulate_until_deadline(schedule, *, deadline):
    t, polls = 0.0, []
    while t < deadline:
        polls.append(t)
        schedule.observe(t, None)
        t += schedule.next_delay(t, deadline=deadline)
    polls.append(t)
    return polls, t


def test_rate_and_eta_linear():
    schedule = PollSchedule()
    for t in (0.0, 10.0, 20.0):
        schedule.observe(t, t * 2.0)  # 2%/s, ends at 50 s
    assert schedule.rate() == pytest.approx(2.0)
    assert schedule.eta(20.0) == pytest.approx(30.0)
    assert schedule.eta(25.0) == pytest.approx(25.0)
    assert schedule.eta(80.0) == 0.0


def test_eta_far_polls_every_max_interval_near_polls_after_end():
    schedule = PollSchedule(max_interval=30.0, margin=0.5)
    schedule.observe(0.0, 1.0)
    schedule.observe(1.0, 2.0)  # 1%/s: 98 s to go
    assert schedule.next_delay(1.0) == 30.0
    schedule.observe(81.0, 82.0)
    assert schedule.next_delay(81.0) == pytest.approx(18.5)


def test_late_job_once_past_prediction_polled_often_but_not_hammered():
    schedule = PollSchedule(min_interval=1.0)
    schedule.observe(0.0, 50.0)
    schedule.observe(10.0, 99.0)  # 4.9 %/s: 100 % predicted at 10.2 s
    # Just past the predicted end: the end is near, look again soon.
    assert schedule.next_delay(10.5) == 1.0
    # Long past it: no longer every second, but never every max_interval either.
    late = PollSchedule(min_interval=1.0)
    late.observe(0.0, 50.0)
    late.observe(10.0, 99.0)
    assert late.next_delay(40.0) == late.stall_interval < late.max_interval


def test_progress_going_back_resets_trend():
    schedule = PollSchedule()
    schedule.observe(0.0, 10.0)
    schedule.observe(10.0, 60.0)
    assert schedule.rate() == pytest.approx(5.0)
    schedule.observe(20.0, 20.0)  # an upstream retry started over
    assert schedule.rate() is None
    assert schedule.eta(20.0) is None
    schedule.observe(30.0, 30.0)
    assert schedule.rate() == pytest.approx(1.0)
    assert schedule.eta(30.0) == pytest.approx(70.0)


def test_repeated_progress_keeps_first_sighting():
    schedule = PollSchedule()
    schedule.observe(0.0, 10.0)
    schedule.observe(10.0, 20.0)
    schedule.observe(15.0, 20.0)  # no news
    assert schedule.rate() == pytest.approx(1.0)


def test_none_progress_does_not_disturb_trend():
    schedule = PollSchedule()
    schedule.observe(0.0, 10.0)
    schedule.observe(10.0, 20.0)
    schedule.observe(12.0, None)
    assert schedule.rate() == pytest.approx(1.0)


def test_window_limits_points():
    schedule = PollSchedule(window=3)
    # An early slow phase falls out of the window; the recent fast trend is what counts.
    for t, p in [(0, 1), (100, 2), (200, 3), (201, 13), (202, 23), (203, 33)]:
        schedule.observe(float(t), float(p))
    assert schedule.rate() == pytest.approx(10.0)


def test_invalid_settings():
    with pytest.raises(ValueError):
        PollSchedule(min_interval=0)
    with pytest.raises(ValueError):
        PollSchedule(min_interval=-1)
    with pytest.raises(ValueError):
        PollSchedule(min_interval=10, max_interval=5)
