"""The emulator's progress profiles and per-key token buckets, as pure functions of time."""

from __future__ import annotations

import itertools
import random

import pytest

from sora_nb.budget import parse_duration
from sora_nb.emulator import EmulatorConfig
from sora_nb.emulator.progress import CAP, PROFILES, Curve, make_curve
from sora_nb.emulator.ratelimit import Limiter, TokenBucket
from sora_nb.emulator.shapes.errors import go_duration

BASE = 2.0  # job_seconds
SEEDS = range(25)


def curve(profile: str, seed: int = 0, base: float = BASE) -> Curve:
    return make_curve(profile, base, random.Random(f"test:{seed}"))


def samples(c: Curve, n: int = 400) -> list[tuple[float, float | None]]:
    """(elapsed, reported) from the slot's start to its end and a little past it."""
    return [(c.total * 1.1 * i / n, c.at(c.total * 1.1 * i / n)) for i in range(n + 1)]


@pytest.mark.parametrize("profile", [p for p in PROFILES if p != "silent"])
def test_progress_is_monotone_and_never_reads_100_before_done(profile: str):
    for seed in SEEDS:
        c = curve(profile, seed)
        values = [v for _, v in samples(c)]
        assert all(v is not None for v in values)
        assert values == sorted(values), (profile, seed)
        assert values[0] == 0.0
        assert max(values) <= CAP < 1.0  # 100 % is only the store's "completed"


def test_linear_is_the_original_line():
    c = curve("linear")
    assert (c.total, c.wait) == (BASE, 0.0)
    assert c.at(0.5) == 0.25
    assert c.at(BASE * 0.999) == 0.99  # capped just before done
    assert c.at_share(0.5) == 0.5  # where a failing job stops, as before
    zero = make_curve("linear", 0.0, random.Random(0))
    assert (zero.at(0.0), zero.at_share(0.5)) == (CAP, 0.5)


def test_queue_jumps_waits_queued_at_zero_then_moves_in_uneven_jumps():
    for seed in SEEDS:
        c = curve("queue_jumps", seed)
        assert 0.5 * BASE <= c.wait <= 2.0 * BASE
        assert c.total == pytest.approx(c.wait + BASE)
        assert c.queued(0.0) and c.queued(c.wait * 0.99) and not c.queued(c.wait)
        assert c.at(c.wait * 0.99) == 0.0
        assert 3 <= len(c.points) <= 6
        times = [t for t, _ in c.points]
        levels = [0.0] + [p for _, p in c.points]
        assert times == sorted(set(times)) and times[0] > 0 and times[-1] < BASE
        steps = [b - a for a, b in itertools.pairwise(levels)]
        assert min(steps) > 0.01 and len({round(x, 6) for x in steps}) > 1  # uneven jumps
        assert 0.7 - 1e-9 <= levels[-1] <= 0.95 + 1e-9
        for (t0, p0), (t1, _) in itertools.pairwise(c.points):
            # Held between jumps: the value of the last jump, up to the next one.
            assert c.at(c.wait + t0 + 1e-9) == c.at(c.wait + (t0 + t1) / 2) == p0
        assert c.at(c.wait + times[0] / 2) == 0.0


def test_plateau_stalls_at_90_to_99_for_longer_than_the_rise():
    for seed in SEEDS:
        c = curve("plateau", seed)
        ((rise, level),) = c.points
        assert 0.90 <= level <= CAP
        assert c.total - rise >= 1.5 * BASE - 1e-9  # the stall
        assert c.at(rise) == level == c.at(c.total * 0.999)
        assert c.at(rise / 2) == pytest.approx(level / 2)


def test_low_then_done_stays_low_until_the_end():
    for seed in SEEDS:
        c = curve("low_then_done", seed)
        assert 0.8 * BASE <= c.total <= 1.5 * BASE
        values = [v for _, v in samples(c)]
        assert max(values) <= 0.15
        assert c.at(c.total * 0.999) == max(values) >= 0.03


def test_silent_reports_no_figure_at_all():
    c = curve("silent")
    assert c.total == BASE
    assert {v for _, v in samples(c)} == {None}
    assert c.at_share(0.5) is None
    assert not c.queued(0.0)


def test_total_time_varies_by_profile_and_scales_with_job_seconds():
    totals = {p: [curve(p, s).total for s in SEEDS] for p in PROFILES}
    assert totals["linear"] == [BASE] * len(SEEDS)
    assert min(totals["plateau"]) > max(totals["linear"])
    assert min(totals["queue_jumps"]) > max(totals["linear"])
    assert len(set(totals["low_then_done"])) > 1
    for profile in PROFILES:
        assert curve(profile, 3, base=2 * BASE).total == pytest.approx(2 * curve(profile, 3).total)


def test_curves_are_deterministic_for_a_seed():
    for profile in PROFILES:
        assert curve(profile, 7) == curve(profile, 7)
    assert curve("plateau", 1) != curve("plateau", 2)


def test_config_takes_profiles_and_rate_limits():
    assert EmulatorConfig().progress_profile == "linear"
    assert EmulatorConfig().rate_limit is None
    limit = EmulatorConfig(rate_limit=(2, 5)).rate_limit
    assert (limit.rate, limit.burst) == (2.0, 5)
    for bad in ({"progress_profile": "wavy"}, {"rate_limit": (0, 5)}, {"rate_limit": (1, 0)}):
        with pytest.raises(ValueError):
            EmulatorConfig(**bad)
    with pytest.raises(ValueError):
        make_curve("wavy", BASE, random.Random(0))


# --- token buckets ----------------------------------------------------------------------------


def test_bucket_allows_a_burst_then_refills_at_the_rate():
    bucket = TokenBucket.full(rate=2.0, burst=3, now=100.0)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(100.0) == pytest.approx(0.5)  # one token in half a second
    assert bucket.take(100.25) == pytest.approx(0.25)  # refused requests take nothing
    assert bucket.take(100.5) == 0.0
    assert bucket.take(110.0) == 0.0  # refilled, but never beyond the burst
    assert [bucket.take(110.0) for _ in range(3)][-1] == pytest.approx(0.5)


def test_limiter_keeps_one_bucket_per_key():
    limiter = Limiter()
    assert limiter.take("sk-a", 1.0, 1, 0.0) == (0.0, 0, 1.0)  # nothing left, full in 1 s
    wait, left, refill = limiter.take("sk-a", 1.0, 1, 0.1)
    assert (wait, left, refill) == (pytest.approx(0.9), 0, pytest.approx(0.9))
    assert limiter.take("sk-b", 1.0, 1, 0.1)[0] == 0.0  # another key, its own bucket
    limiter.clear()
    assert limiter.take("sk-a", 1.0, 1, 0.2)[0] == 0.0


def test_the_bucket_says_what_is_left_and_when_it_is_full():
    limiter = Limiter()
    assert limiter.take("k", 2.0, 3, 0.0) == (0.0, 2, pytest.approx(0.5))
    assert limiter.take("k", 2.0, 3, 0.0) == (0.0, 1, pytest.approx(1.0))
    assert limiter.take("k", 2.0, 3, 0.25) == (0.0, 0, pytest.approx(1.25))  # 0.5 + 0.5 taken


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0s"),
        (0.02, "20ms"),
        (0.4, "400ms"),
        (1.0, "1s"),
        (1.5, "1.5s"),
        (360.0, "6m0s"),  # OpenAI's sample x-ratelimit-reset-tokens
        (3723.5, "1h2m3.5s"),
    ],
)
def test_reset_times_are_written_as_go_durations(seconds, text):
    # Go's time.Duration.String, as OpenAI writes x-ratelimit-reset-*; and sora_nb reads them back.
    assert go_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)
