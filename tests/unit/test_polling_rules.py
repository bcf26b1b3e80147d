"""polling: the rules of PollSchedule beyond the trend (stalls, jumps, the history prior, the
presets), in simulated time: times are numbers, nothing sleeps."""

from __future__ import annotations

import math

import pytest

from sora_nb.polling import FAST, PollSchedule


def drive(schedule, progress, *, until, finish=math.inf):
    """Poll as ``flows.wait`` does after a create at t=0: wait, poll, observe, wait...

    ``progress(t)`` is what a poll at t sees. Returns [(poll time, wait after it)] up to
    ``until`` or the first poll at or after ``finish`` (its wait is None).
    """
    t = schedule.next_delay(0.0)
    out = []
    while t < until:
        if t >= finish:
            out.append((t, None))
            break
        schedule.observe(t, progress(t))
        delay = schedule.next_delay(t)
        out.append((t, delay))
        t += delay
    return out


def waits_between(polls, start, end):
    return [d for t, d in polls if start <= t < end and d is not None]


# --- stalls -------------------------------------------------------------------------------------


def plateau(t):
    """0 -> 95 % over 60 s in whole percent, then stuck at 95 %."""
    return float(math.floor(min(95.0, 95.0 * t / 60.0)))


def test_plateau_backs_off_up_to_stall_interval_not_every_second():
    schedule = PollSchedule()
    polls = drive(schedule, plateau, until=900.0)
    stalled = waits_between(polls, 60.0, 900.0)
    # Not hammered every min_interval while stuck, and never left for max_interval either.
    assert max(stalled) == schedule.stall_interval < schedule.max_interval
    assert stalled.count(schedule.min_interval) <= 1
    assert len(stalled) <= 840 / schedule.stall_interval + 4
    # Once stalled, the waits only grow (up to the cap).
    after = [d for t, d in polls if t > 70.0]
    assert after == sorted(after)


def test_first_wait_of_a_stall_grows_with_the_time_already_stalled():
    def stuck_for(seconds):
        schedule = PollSchedule()
        schedule.observe(0.0, 0.0)
        schedule.observe(10.0, 40.0)
        schedule.observe(20.0, 80.0)  # 4 %/s: 100 % predicted at 25 s
        schedule.observe(20.0 + seconds, 80.0)  # still 80 %: stalled
        assert schedule.stalled()
        return schedule.next_delay(20.0 + seconds)

    short, longer = stuck_for(1.0), stuck_for(5.0)
    assert 1.0 <= short < longer < 8.0
    assert stuck_for(60.0) == PollSchedule().stall_interval


def test_same_figure_within_a_point_of_the_trend_is_not_a_stall():
    # Whole-percent figures: a steady 0.2 %/s job shows the same figure for up to 5 s.
    schedule = PollSchedule()
    schedule.observe(0.0, 10.0)
    schedule.observe(30.0, 16.0)
    schedule.observe(33.0, 16.0)
    assert not schedule.stalled()
    assert schedule.next_delay(33.0) == schedule.max_interval  # the end is far: refine


def test_slow_low_progress_that_stands_still_is_not_polled_every_max_interval():
    # 8 % after 30 s predicts an end some six minutes out; then it never moves again.
    def low(t):
        return float(math.floor(min(8.0, 8.0 * t / 30.0)))

    schedule = PollSchedule()
    polls = drive(schedule, low, until=600.0)
    assert max(waits_between(polls, 90.0, 600.0)) <= schedule.stall_interval


def test_progress_in_jumps_is_not_timed_by_its_trend():
    # 0 % until 20 s, then jumps: 20 % at 20 s, 40 % at 80 s, 60 % at 140 s, 80 % at 200 s.
    def steps(t):
        return float(20 * min(4, int((t + 40) // 60))) if t >= 20 else 0.0

    schedule = PollSchedule()
    polls = drive(schedule, steps, until=400.0)
    # The trend would predict the end far away after each jump; the last jump (to done) can
    # come at any moment, so no wait is longer than stall_interval after the first stall.
    assert max(waits_between(polls, 90.0, 400.0)) <= schedule.stall_interval


def test_steady_progress_is_polled_rarely_then_just_after_the_end():
    # A relay that stops at 99 % (whole percent) and is done when it would reach 99 %.
    def linear(t):
        return float(min(99, math.floor(99.0 * t / 300.0)))

    schedule = PollSchedule()
    polls = drive(schedule, linear, until=1000.0, finish=300.0)
    seen = polls[-1][0]
    assert polls[-1][1] is None and 300.0 <= seen <= 300.0 + schedule.stall_interval / 2
    assert len(polls) <= 300 / schedule.max_interval + 8  # fixed 10 s polling: 30


def test_progress_going_back_resets_trend_stall_and_jumps():
    schedule = PollSchedule()
    for t, p in [(0.0, 10.0), (10.0, 50.0), (20.0, 90.0), (40.0, 90.0), (60.0, 90.0)]:
        schedule.observe(t, p)
    assert schedule.stalled()
    schedule.observe(70.0, 5.0)  # an upstream retry starts over
    assert schedule.rate() is None
    assert not schedule.stalled()
    # The wait without a trend starts afresh from what just changed, not from the long stall.
    assert schedule.next_delay(70.0) <= 0.1 * 70.0
    # A steady new trend is trusted again: the end is far, so refine every max_interval.
    schedule.observe(71.0, 5.0)
    schedule.observe(80.0, 6.0)
    schedule.observe(90.0, 7.0)
    assert not schedule.stalled()
    assert schedule.next_delay(90.0) == schedule.max_interval


# --- the history prior --------------------------------------------------------------------------


def test_silent_job_with_prior_waits_max_interval_until_half_its_usual_time():
    schedule = PollSchedule(expected_seconds=300.0)
    polls = drive(schedule, lambda t: None, until=200.0)
    assert [t for t, _ in polls][:6] == [30.0, 60.0, 90.0, 120.0, 150.0, 158.0]
    assert waits_between(polls, 150.0, 200.0) == [schedule.stall_interval] * len(
        waits_between(polls, 150.0, 200.0)
    )


def test_silent_job_without_prior_backs_off_to_stall_interval():
    schedule = PollSchedule()
    polls = drive(schedule, lambda t: None, until=200.0)
    assert [t for t, _ in polls][:5] == [1.0, 3.0, 7.0, 15.0, 23.0]
    assert max(d for _, d in polls) == schedule.stall_interval
    # The prior saves the early requests: 5 polls in the first 150 s instead of 20.
    assert sum(t < 150.0 for t, _ in polls) == 20


def test_prior_does_not_hold_back_a_trend_that_ends_sooner():
    schedule = PollSchedule(expected_seconds=1200.0)
    polls = drive(schedule, lambda t: float(min(99, math.floor(t))), until=1000.0, finish=99.0)
    assert polls[-1][1] is None and polls[-1][0] <= 99.0 + schedule.stall_interval / 2


def test_prior_counts_from_the_job_start_when_elapsed_is_given():
    fresh = PollSchedule(expected_seconds=300.0)
    assert fresh.next_delay(0.0) == fresh.max_interval
    resumed = PollSchedule(expected_seconds=300.0, elapsed=200.0)  # past half its usual time
    resumed.observe(0.0, None)
    assert resumed.next_delay(0.0) == resumed.stall_interval


def test_prior_shorter_than_the_job_costs_requests_not_delay():
    schedule = PollSchedule(expected_seconds=20.0)
    polls = drive(schedule, lambda t: None, until=1000.0, finish=300.0)
    assert polls[-1][0] - 300.0 <= schedule.stall_interval


# --- hints, deadline ----------------------------------------------------------------------------


def test_hint_is_a_floor_in_every_mode():
    prior = PollSchedule(expected_seconds=300.0)
    assert prior.next_delay(0.0, hint=45.0) == 45.0
    assert prior.next_delay(0.0, hint=5.0) == prior.max_interval
    stalled = PollSchedule()
    for t, p in [(0.0, 10.0), (10.0, 50.0), (20.0, 90.0), (80.0, 90.0)]:
        stalled.observe(t, p)
    assert stalled.next_delay(80.0) == stalled.stall_interval
    assert stalled.next_delay(80.0, hint=20.0) == 20.0


def test_deadline_caps_every_mode():
    prior = PollSchedule(expected_seconds=300.0)
    assert prior.next_delay(0.0, deadline=12.0) == 12.0
    assert prior.next_delay(0.0, hint=45.0, deadline=12.0) == 12.0
    stalled = PollSchedule()
    for t, p in [(0.0, 10.0), (10.0, 50.0), (20.0, 90.0), (80.0, 90.0)]:
        stalled.observe(t, p)
    assert stalled.next_delay(80.0, deadline=83.0) == pytest.approx(3.0)
    assert stalled.next_delay(90.0, deadline=83.0) == 0.0


# --- presets, settings --------------------------------------------------------------------------


def test_fast_preset_and_overrides():
    fast = PollSchedule.fast()
    assert fast.stall_interval == FAST["stall_interval"] < PollSchedule().stall_interval
    assert fast.margin == FAST["margin"]
    assert fast.min_interval == 1.0 and fast.max_interval == 30.0
    custom = PollSchedule.fast(expected_seconds=120.0, min_interval=0.5)
    assert (custom.expected_seconds, custom.min_interval) == (120.0, 0.5)
    assert custom.stall_interval == FAST["stall_interval"]


def test_fast_preset_backs_off_to_its_own_stall_interval():
    fast = PollSchedule.fast()
    polls = drive(fast, lambda t: None, until=60.0)
    assert max(d for _, d in polls) == fast.stall_interval


@pytest.mark.parametrize(
    "settings",
    [
        {"growth": 0.5},
        {"stall_interval": 0.0},
        {"expected_seconds": -1.0},
        {"elapsed": -5.0},
    ],
)
def test_invalid_new_settings(settings):
    with pytest.raises(ValueError):
        PollSchedule(**settings)
