"""budget: the request budget of a gateway and key, on a fake clock (no timing assertions)."""

from __future__ import annotations

import itertools
import math

import pytest

from sora_nb import budget, polling
from sora_nb.budget import Budget, Limits, parse_duration, read_limits, retry_after
from sora_nb.polling import Board

KEY = "sk-budget-canary-4f1c9a77e2b0"


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def go(b: Budget, clock: Clock, deadline: float | None = None) -> budget.Turn:
    """Take a turn, sleeping (on the fake clock) until it comes."""
    turn = b.reserve(clock.now, deadline)
    assert turn is not None
    for pause in b.waits(turn, clock, deadline):
        assert pause > 0
        clock.now += pause
    return turn


def sent_times(b: Budget, clock: Clock, n: int, *, limited=lambda i: False) -> list[float]:
    """``n`` requests one after the other, each answered at once; when each went out."""
    times = []
    for i in range(n):
        turn = go(b, clock)
        times.append(clock.now)
        b.answered(turn, clock.now, {}, limited=limited(i))
    return times


def learned(rate_limited_after: int = 2) -> tuple[Budget, Clock]:
    """A budget that met its first 429 after ``rate_limited_after`` answers."""
    b, clock = Budget("https://relay.example:443/v1"), Clock()
    sent_times(b, clock, rate_limited_after + 1, limited=lambda i: i == rate_limited_after)
    assert b.learned
    return b, clock


# --- pacing ---------------------------------------------------------------------------------


def test_optimistic_until_a_limit_shows_then_not_paced_at_all():
    b, clock = Budget(), Clock()
    assert not b.learned
    sent_times(b, clock, 30)
    assert b.rate is None  # the slow start is over: no pacing
    start = clock.now
    turns = [b.reserve(clock.now) for _ in range(50)]
    assert all(b.delay(t, clock.now) == 0 for t in turns)
    assert clock.now == start


def test_a_batch_started_at_once_does_not_all_go_at_once_before_any_answer():
    b, clock = Budget(), Clock()
    turns = [b.reserve(clock.now) for _ in range(20)]
    delays = [b.delay(t, clock.now) for t in turns]
    assert delays[: budget.SLOW_START_BURST] == [0.0] * budget.SLOW_START_BURST
    assert all(d > 0 for d in delays[budget.SLOW_START_BURST :])
    assert delays == sorted(delays)


def test_a_429_paces_every_later_request():
    b, clock = learned()
    rate = b.rate
    assert rate is not None and math.isfinite(rate)
    times = sent_times(b, clock, 5)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap > 0 for gap in gaps)


def test_retry_after_blocks_every_turn_until_then():
    b, clock = Budget(), Clock()
    waiting = [b.reserve(clock.now) for _ in range(5)]
    turn = waiting.pop(0)
    for _ in b.waits(turn, clock):
        pass
    b.answered(turn, clock.now, {"Retry-After": "30"}, limited=True)
    until = clock.now + 30
    assert b.blocked_until() == pytest.approx(until)
    for t in waiting:
        assert clock.now + b.delay(t, clock.now) >= until
    fresh = b.reserve(clock.now)
    assert clock.now + b.delay(fresh, clock.now) >= until


def test_turns_keep_their_order_when_the_pace_changes():
    b, clock = learned()
    turns = [b.reserve(clock.now) for _ in range(10)]
    before = [b.delay(t, clock.now) for t in turns]
    first = go(b, clock)  # a request already holding a turn goes and is refused
    b.answered(first, clock.now, {}, limited=True)
    after = [clock.now + b.delay(t, clock.now) for t in turns]
    assert after == sorted(after)
    assert after[-1] - after[0] >= before[-1] - before[0]  # slower: spread further apart


def test_requests_refused_for_the_same_excess_cut_the_pace_once():
    b, clock = learned()
    turns = [go(b, clock) for _ in range(4)]  # all sent before any answer came
    rate = b.rate
    cuts = b.counts["cuts"]
    for t in turns:
        b.answered(t, clock.now, {}, limited=True)
    assert b.counts["cuts"] == cuts + 1
    assert b.rate is not None and b.rate < rate


def test_successes_raise_the_pace_again_but_slowly():
    b, clock = learned()
    b.answered(go(b, clock), clock.now, {}, limited=True)  # a second 429: the limit is known
    rate, hit = b.rate, b.snapshot()["hit"]
    assert rate is not None and hit is not None
    ceiling = max(rate, budget.HIT_MARGIN * hit)
    sent_times(b, clock, 20)
    assert rate <= b.rate <= ceiling  # back towards the limit, not past it
    assert b.learned
    # Past it only after a long run without a 429 (the limit may have been raised), slowly.
    sent_times(b, clock, budget.PROBE_AFTER - 20)
    assert b.rate == pytest.approx(ceiling)
    sent_times(b, clock, 40)
    assert ceiling < b.rate < 1.5 * ceiling


def test_a_429_while_requests_were_sparse_does_not_set_the_pace_to_the_demand():
    # A notebook polling one job now and then meets a 429 (the relay's hiccup): the few requests
    # that got through measure how often it asked, not what the gateway allows.
    b, clock = learned()
    sent_times(b, clock, 10)
    busy = b.rate
    assert busy is not None
    for _ in range(6):  # one request every 2 s, far below the pace
        clock.now += 2.0
        b.answered(go(b, clock), clock.now, {})
    clock.now += 2.0
    b.answered(go(b, clock), clock.now, {}, limited=True)
    assert b.snapshot()["hit"] is None  # no limit was measured
    slowed = b.rate
    assert slowed is not None and slowed > 1.0  # not the 0.5 a second it was asked for
    sent_times(b, clock, 5)
    assert b.rate > slowed + 2  # and it grows back quickly


def test_late_turns_say_the_gateway_asked_to_wait_only_while_it_does():
    b = Budget()
    b.answered(None, 100.0, {"Retry-After": "30"}, limited=True)
    assert "asked to wait" in b.why_late(110.0)
    assert "asked to wait" not in b.why_late(140.0)  # long over


def test_refusals_that_come_whatever_the_pace_do_not_sink_it():
    # A relay refusing one request in twelve, at any pace (overload, not a limit per key): each
    # 429 lowers the pace, but never below half of what the relay was seen to accept.
    b, clock = learned()
    sent_times(b, clock, 40)
    accepted = b.rate
    sent_times(b, clock, 600, limited=lambda i: i % 12 == 11)
    assert b.counts["cuts"] > 40
    assert b.rate >= 0.3 * accepted


def test_no_turn_after_the_deadline_and_nothing_reserved():
    b, clock = Budget(), Clock()
    b.answered(go(b, clock), clock.now, {"Retry-After": "60"}, limited=True)
    before = b.snapshot()["next"]
    assert b.reserve(clock.now, deadline=clock.now + 10) is None
    assert b.snapshot()["next"] == before


def test_a_turn_due_now_goes_even_a_moment_past_its_deadline():
    # A poll scheduled for its deadline that woke a little late (a loaded machine) on a gateway
    # that never limited anything: it is due at once, so it goes. It is not refused as if a rate
    # limit had held it back ("the gateway's rate limit gives no turn in time").
    b, clock = Budget(), Clock()
    for _ in range(200):  # slow start done: no pace at all
        b.answered(go(b, clock), clock.now, {}, limited=False)
        clock.now += 0.01
    assert b.rate is None and not b.learned
    deadline = clock.now - 0.005
    turn = b.reserve(clock.now, deadline)
    assert turn is not None
    assert b.delay(turn, clock.now, deadline) == 0.0
    assert list(b.waits(turn, clock, deadline)) == []


def test_a_turn_moved_past_its_deadline_says_so():
    b, clock = Budget(), Clock()
    first = go(b, clock)
    turn = b.reserve(clock.now, deadline=clock.now + 5)
    assert turn is not None
    b.answered(first, clock.now, {"Retry-After": "60"}, limited=True)
    assert b.delay(turn, clock.now, deadline=clock.now + 5) is None
    with pytest.raises(budget.Late):
        list(b.waits(turn, clock, deadline=clock.now + 5))


def test_an_empty_balance_429_teaches_no_limit():
    b, clock = Budget(), Clock()
    b.answered(go(b, clock), clock.now, {}, limited=False)  # the client passes limited=False
    assert not b.learned


# --- headers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,seconds",
    [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("2.5", 2.5)],
)
def test_go_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "1x", "-3"])
def test_bad_durations(text):
    assert parse_duration(text) is None


def test_retry_after_forms():
    assert retry_after({"retry-after": "7"}) == 7.0
    assert retry_after({"retry-after-ms": "250", "retry-after": "7"}) == 0.25
    wall = 1_700_000_000.0
    date = "Tue, 14 Nov 2023 22:13:40 GMT"  # wall + 20 s
    assert retry_after({"retry-after": date}, wall=wall) == pytest.approx(20.0)
    assert retry_after({"retry-after": "whenever"}) is None
    assert retry_after({}) is None


def test_openai_headers_are_a_bucket_refilling():
    limits = read_limits(
        {
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-remaining-requests": "59",
            "x-ratelimit-reset-requests": "1s",
        }
    )
    assert limits == Limits(limit=60, remaining=59, reset=1.0, refill=True)
    assert limits.pace() == pytest.approx(1.0)  # one request refilled a second
    empty = Limits(limit=60, remaining=0, reset=60.0, refill=True)
    assert empty.next_turn() == pytest.approx(1.0)


def test_ietf_and_x_ratelimit_headers_are_windows():
    ietf = read_limits(
        {"RateLimit-Limit": "100", "RateLimit-Remaining": "30", "RateLimit-Reset": "10"}
    )
    assert ietf == Limits(limit=100, remaining=30, reset=10.0)
    assert ietf.pace() == pytest.approx(3.0)
    structured = read_limits({"RateLimit": '"default";r=0;t=12'})
    assert structured.next_turn() == pytest.approx(12.0)
    wall = 1_700_000_000.0
    github = read_limits(
        {
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(wall + 42),
        },
        wall=wall,
    )
    assert github.next_turn() == pytest.approx(42.0)
    seconds = read_limits({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3"})
    assert seconds.next_turn() == pytest.approx(3.0)
    assert read_limits({"content-type": "application/json"}) is None


def test_headers_set_the_pace_before_any_429():
    b, clock = Budget(), Clock()
    headers = {"RateLimit-Limit": "10", "RateLimit-Remaining": "4", "RateLimit-Reset": "2"}
    b.answered(go(b, clock), clock.now, headers)
    assert b.learned and b.rate == pytest.approx(2.0, rel=0.01)
    b.answered(go(b, clock), clock.now, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9"})
    assert b.blocked_until() == pytest.approx(clock.now + 9)
    assert b.counts["limited"] == 0


# --- one budget per gateway and key -----------------------------------------------------------


def test_the_registry_shares_by_gateway_and_key():
    budget.clear()
    a = budget.for_gateway("https://Relay.Example/v1", KEY)
    assert budget.for_gateway("https://relay.example:443/v1/", KEY) is a
    assert budget.for_gateway("https://relay.example/v1", KEY + "x") is not a
    assert budget.for_gateway("https://relay.example/v2", KEY) is not a
    assert budget.for_gateway("http://relay.example/v1", KEY) is not a
    budget.clear()
    assert budget.for_gateway("https://relay.example/v1", KEY) is not a


def test_the_key_never_shows():
    budget.clear()
    b = budget.for_gateway("https://relay.example/v1", KEY)
    clock = Clock()
    b.answered(go(b, clock), clock.now, {}, limited=True)
    board = b.board("openai")
    shown = " ".join([repr(b), str(b), repr(b.snapshot()), repr(board), b.fingerprint, b.label])
    assert KEY not in shown
    assert KEY[3:12] not in shown
    assert budget.fingerprint(KEY) == b.fingerprint != budget.fingerprint(KEY + "x")
    assert budget.fingerprint(None) == ""
    budget.clear()


# --- the status board -----------------------------------------------------------------------


def test_a_single_wait_never_lists():
    board = Board()
    board.join("a", 0.0)
    assert board.ask("a", 1.0, seen=0.0)[0] == "own"


def test_one_list_answers_every_wait_in_it():
    board = Board()
    for job in ("a", "b", "c"):
        board.join(job, 0.0)
        board.due(job, 1.0)
    action, _, _ = board.ask("a", 1.0, seen=0.0)
    assert action == "list"
    assert board.ask("b", 1.0, seen=0.0)[0] == "wait"  # it is on its way
    board.listed({"a": "A", "b": "B"}, 1.1)
    assert board.ask("a", 1.1, seen=0.0) == ("cached", "A", 1.1)
    assert board.ask("b", 1.2, seen=0.0, asked=1.0) == ("cached", "B", 1.1)
    assert board.ask("c", 1.2, seen=0.0)[0] == "own"  # not in the page: its own poll
    # News already seen is not news: the next round needs a newer list.
    assert board.ask("a", 1.2, seen=1.1)[0] == "list"
    assert board.counts["lists"] == 2 and board.counts["served"] == 2


def test_a_board_without_a_list_route_stops_asking():
    board = Board()
    for job in ("a", "b"):
        board.join(job, 0.0)
    assert board.ask("a", 0.0, seen=-1.0)[0] == "list"
    board.list_failed(0.0, permanent=True)
    assert board.ask("a", 1000.0, seen=-1.0)[0] == "own"
    assert board.ask("b", 1000.0, seen=-1.0)[0] == "own"


def test_a_failed_list_lets_waits_poll_alone_for_a_while():
    board = Board()
    for job in ("a", "b"):
        board.join(job, 0.0)
    assert board.ask("a", 0.0, seen=-1.0)[0] == "list"
    board.list_failed(0.0, permanent=False)
    assert board.ask("a", 1.0, seen=-1.0)[0] == "own"
    assert board.ask("a", polling.BOARD_QUIET + 1, seen=-1.0)[0] == "list"


def test_the_board_pages_for_every_wait():
    board = Board()
    for i in range(250):
        board.join(f"job{i}", 0.0)
    assert board.pages() == 3
    assert board.missing({f"job{i}" for i in range(100)})
    assert not board.missing({f"job{i}" for i in range(250)})


def test_the_pace_in_words_for_sora_config():
    fresh = Budget()
    assert fresh.describe(100.0) == "no limit met yet"
    b, clock = learned()
    assert b.describe(clock.now).startswith("paced at ")
    assert b.describe(clock.now).endswith(", learned from 1 answer 429")
    b.answered(None, clock.now, {"Retry-After": "20"}, limited=True)
    text = b.describe(clock.now)
    assert "learned from 2 answers 429; every request held back 20 s more" in text
    told = Budget()
    told.answered(
        None,
        5.0,
        {
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-remaining-requests": "59",
            "x-ratelimit-reset-requests": "1s",
        },
    )
    assert (
        told.describe(5.0)
        == "paced at 1 requests a second, learned from the gateway's rate-limit headers"
    )
