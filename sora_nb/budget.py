"""One request budget per gateway and key, shared by everything in the process that uses them.

Relays limit requests per key (new-api's ``middleware/rate-limit.go``; OpenAI's "Rate limits"
guide, https://platform.openai.com/docs/guides/rate-limits). Many jobs started at once (``-n 8``,
a batch, an ``asyncio.gather``) that each back off on their own still send most of their creates
into the limit. A :class:`Budget` paces every request to one gateway with one key instead: the
cells of a kernel, the panel, background jobs and a script's clients all draw their turns from
the same one (:func:`for_gateway`). Pure: no sockets and no sleeping; times come in as numbers
(``time.monotonic`` in the clients), and a lock makes it safe for a synchronous client in one
thread and async tasks in another.

**Turns.** :meth:`Budget.reserve` hands out numbered turns, like tickets; a turn's time follows
from its number and the current pace (one turn every ``1 / rate`` seconds from a base), so
callers sleep until it without any queue. When the pace changes (a 429 slowed it, successes
sped it up, a ``Retry-After`` blocked it), every turn not yet taken moves with it, in order:
:meth:`Budget.delay` tells a caller that woke up whether its turn is now, or later.

**Learning.** It starts optimistic: no limit known, only a short slow start (two requests at
once, then a pace that grows half again with every answer, and is gone after a dozen), so a
batch started at once does not send every create into a limit it has not met yet. A 429 sets the
pace below the rate the gateway was seen to accept (multiplicative decrease), blocks everyone
until its ``Retry-After`` (or one turn, when it gives none); successes raise the pace again,
quickly to just below the rate the last 429 measured, and past it only after a long run without
a 429, by small steps. A 429 while requests were sparse and none waited measures the demand, not
the limit: it only slows the pace a little. No 429 sets the
pace below half the most the gateway was seen to accept lately (fading over minutes): a relay
that refuses a share of requests whatever the pace (overload, or an injected fault) slows a
batch down without sinking it. Where a relay sends rate-limit headers (:func:`read_limits`),
they set the pace outright, before any 429.

**Status board.** :class:`Board` lets the waits of many jobs share one list request where the
family can list jobs (``flows.wait``).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from .polling import Board

__all__ = [
    "Budget",
    "Late",
    "Limits",
    "Turn",
    "clear",
    "fingerprint",
    "for_gateway",
    "parse_duration",
    "read_limits",
    "retry_after",
]

# -- reading headers -----------------------------------------------------------------------------

# A Go duration, as OpenAI writes its reset times: "1s", "6m0s", "20ms", "1h2m3.5s".
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|us|µs|ns|m|s)")
_GO_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
# A value this large is a Unix time, not a number of seconds (GitHub's X-RateLimit-Reset).
_EPOCH = 1e9


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    text = value.split(",")[0].split(";")[0].strip()
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _seconds(value: str | None) -> float | None:
    """A number of seconds to wait; a negative one is none at all."""
    try:
        number = float(value.strip()) if value is not None else math.nan
    except ValueError:
        return None
    return max(0.0, number) if math.isfinite(number) else None


def parse_duration(value: str | None) -> float | None:
    """Seconds in ``value``: a plain number of seconds, or a Go duration (``6m0s``)."""
    if value is None:
        return None
    text = value.strip()
    plain = _number(text)
    if plain is not None:
        return plain
    parts = _GO_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _GO_UNIT[u] for n, u in parts)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names are case-insensitive: lower-cased here (httpx's already are)."""
    return {k.lower(): v for k, v in headers.items()}


def _wall(wall: float | None) -> float:
    return time.time() if wall is None else wall


def retry_after(headers: Mapping[str, str] | None, *, wall: float | None = None) -> float | None:
    """Seconds the gateway asks to wait before the next request, or None when it says nothing.

    ``retry-after-ms`` first (OpenAI's API sends it; the openai package prefers it:
    openai-python ``_base_client.py`` ``_parse_retry_after_header``), then ``Retry-After`` as
    seconds or as an HTTP date (RFC 9110 section 10.2.3). ``wall``: the Unix time now (for a date).
    """
    if not headers:
        return None
    headers = _lower(headers)
    millis = _seconds(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - _wall(wall))


@dataclass(frozen=True)
class Limits:
    """What an answer's rate-limit headers say.

    ``refill``: ``reset`` is the time until the bucket is full again (OpenAI's meaning), so the
    gateway refills ``(limit - remaining) / reset`` requests a second; otherwise ``remaining``
    requests are left until the window ends in ``reset`` seconds.
    """

    limit: float | None = None
    remaining: float | None = None
    reset: float | None = None
    refill: bool = False

    def next_turn(self) -> float | None:
        """Seconds until a request may go, when none is left now; None while some are."""
        if self.remaining is None or self.remaining >= 1 or self.reset is None:
            return None
        if self.refill and self.limit:
            return self.reset / self.limit  # one request's share of the refill
        return self.reset

    def pace(self) -> float | None:
        """The most requests a second these figures allow, when they say."""
        if self.reset is None or self.remaining is None or self.reset <= 0:
            return None
        if self.refill:
            if self.limit is None or self.limit <= self.remaining:
                return None
            return (self.limit - self.remaining) / self.reset
        return self.remaining / self.reset if self.remaining >= 1 else None


def _reset_seconds(value: str | None, wall: float | None) -> float | None:
    seconds = _number(value)
    if seconds is None:
        return None
    if seconds > _EPOCH:  # a Unix time
        return max(0.0, seconds - _wall(wall))
    return seconds


_SF_PARAM = re.compile(r";\s*([a-z]+)\s*=\s*([0-9.]+)")


def read_limits(headers: Mapping[str, str] | None, *, wall: float | None = None) -> Limits | None:
    """The request limit an answer's headers describe, in whichever family the relay uses.

    - OpenAI's ``x-ratelimit-limit-requests`` / ``x-ratelimit-remaining-requests`` /
      ``x-ratelimit-reset-requests``: the reset is a Go duration (``1s``, ``6m0s``) until the
      limit "resets to its initial state", i.e. the bucket is full again (OpenAI API guide,
      "Rate limits", section "Rate limits in headers": sample values 60, 59, ``1s``).
    - The IETF draft's ``RateLimit-Limit`` / ``RateLimit-Remaining`` / ``RateLimit-Reset``, the
      reset in seconds until the window ends (draft-ietf-httpapi-ratelimit-headers-00 to -06);
      its later single field ``RateLimit: "default";r=50;t=30`` (remaining ``r``, seconds to reset
      ``t``; http.dev's summary of the current draft).
    - The common ``X-RateLimit-Limit`` / ``X-RateLimit-Remaining`` / ``X-RateLimit-Reset``; the
      reset is a Unix time at GitHub ("UTC epoch seconds", docs.github.com REST rate limits) and
      seconds to wait at others (docs.pyannote.ai uses epoch, docs.withpersona.com seconds):
      a value past 10^9 is read as a Unix time.

    new-api (QuantumNous/new-api ``middleware/rate-limit.go``, ``model-rate-limit.go``) and
    one-api (songquanpeng/one-api ``middleware/rate-limit.go``) send none of these on their 429s,
    nor ``Retry-After``: a bare 429, or ``{"error": {"message": "您已达到请求数限制…",
    "type": "new_api_error"}}``. Their limits are learned from the 429s alone.
    """
    if not headers:
        return None
    headers = _lower(headers)
    remaining = _number(headers.get("x-ratelimit-remaining-requests"))
    if remaining is not None:
        return Limits(
            limit=_number(headers.get("x-ratelimit-limit-requests")),
            remaining=remaining,
            reset=parse_duration(headers.get("x-ratelimit-reset-requests")),
            refill=True,
        )
    structured = headers.get("ratelimit")
    if structured:
        params = dict(_SF_PARAM.findall(structured.lower()))
        r, t = _number(params.get("r")), _number(params.get("t"))
        if r is not None:
            return Limits(remaining=r, reset=t)
    for prefix in ("ratelimit-", "x-ratelimit-"):
        remaining = _number(headers.get(prefix + "remaining"))
        if remaining is not None:
            return Limits(
                limit=_number(headers.get(prefix + "limit")),
                remaining=remaining,
                reset=_reset_seconds(headers.get(prefix + "reset"), wall),
            )
    return None


# -- the budget ----------------------------------------------------------------------------------

# Slow start, while no limit is known: SLOW_START_BURST requests at once, then SLOW_START_RATE a
# second, the pace growing by SLOW_START_GROWTH with every answer; past OPEN_RATE requests are not
# paced at all (about a dozen answers in).
SLOW_START_BURST = 2
SLOW_START_RATE = 8.0
SLOW_START_GROWTH = 1.5
OPEN_RATE = 500.0
# Sleeps while waiting for a turn: at least NAP_MIN, at most a quarter of the wait left, and at
# most NAP_MOVING while the pace moves fast (slow start, recovery), NAP_SETTLED once it settled.
NAP_MIN = 0.02
NAP_MOVING = 0.1
NAP_SETTLED = 1.0
# A reserved turn not taken this long after it was reserved is forgotten (its holder is gone).
STALE = 3600.0
# The pace never falls below MIN_RATE (one request a minute): a turn is always in sight.
MIN_RATE = 1.0 / 60.0
# The accepted rate, measured when a 429 comes: over the last WINDOW seconds or TURNS turns at
# the pace, whichever is longer, not from before the previous 429 (see Budget._measured), over
# MIN_SPAN at least, and back to the MIN_COUNT-th latest answer at least; answers are kept KEEP
# seconds. CREDIT: the part-request a bucket emptied by this 429 is refilling, on average.
WINDOW = 1.0
TURNS = 12.0
MIN_SPAN = 1.0
KEEP = 300.0
CREDIT = 0.5
MIN_COUNT = 3
# The first 429: FIRST_SHARE of the geometric mean of the accepted rate and the slow start's pace,
# FIRST_FLOOR at least. Later ones: the least of DECREASE times the pace and CUT_SHARE of the
# accepted rate (multiplicative decrease). The rate the limit is taken to be ("hit"): the accepted
# rate, or HIT_SHARE of the pace the 429 came at when that is more (few answers measure roughly).
FIRST_SHARE = 0.35
FIRST_FLOOR = 1.0
DECREASE = 0.85
CUT_SHARE = 0.9
HIT_SHARE = 0.5
# No turn waiting and requests going out at less than SATURATED of the pace: the accepted rate
# measures the demand, not the limit.
SATURATED = 0.5
# The floor: FLOOR_SHARE of the highest accepted rate measured at a 429, fading by e every
# BEST_FADE seconds (so a limit that really fell is followed within minutes).
FLOOR_SHARE = 0.5
BEST_FADE = 300.0
# Growth on success. Until the limit is known (after the first 429), and up to RECOVER_SHARE of
# it, each success adds RECOVER_STEP requests a second (at full use, the pace doubles in about a
# second). Then INCREASE of the pace per success up to HIT_MARGIN of the limit: the accepted rate
# measured at a 429 counts what the gateway's burst let through too, so it runs a few percent
# high, and a pace at it would drain that burst into the next 429 within seconds. Past it only
# after PROBE_AFTER answers without a 429, by PROBE times the successes since the last 429 over
# PROBE_RAMP (slowly, then faster while no 429 comes: it looks for a limit raised since), never
# past OPEN_RATE.
RECOVER_SHARE = 0.9
RECOVER_STEP = 0.7
INCREASE = 0.004
HIT_MARGIN = 0.95
PROBE_AFTER = 60
PROBE = 0.0005
PROBE_RAMP = 20.0


@dataclass
class Turn:
    """One reserved turn: its number, and when the request went out (None until it does)."""

    number: int
    sent_at: float | None = None


class Budget:
    """The request budget of one gateway (origin and base path) and one key.

    ``reserve(now)`` → a :class:`Turn` (or None when it would come after ``deadline``);
    ``delay(turn, now)`` → seconds still to wait (0: go now; None: it has moved past the
    deadline); ``sent(turn, now)`` when the request goes out; ``answered(turn, now, headers,
    limited=...)`` with every answer; ``release(turn)`` for a turn given up.
    """

    def __init__(self, label: str = "", fingerprint: str = "") -> None:
        self.label = label
        self.fingerprint = fingerprint
        self._lock = threading.RLock()
        self._rate: float | None = SLOW_START_RATE  # None: not paced
        self._burst = float(SLOW_START_BURST)
        self._learned = False  # a limit has been seen (429 or headers)
        self._hit: float | None = None  # the accepted rate when the last 429 came
        # Turn k is due at _base_time + (k - _base_turn) / rate, never before _blocked_until.
        self._next = 0
        self._base_turn = 0.0
        self._base_time: float | None = None
        self._blocked_until = -math.inf
        self._last_cut = -math.inf  # when the pace was last lowered
        self._accepted: deque[float] = deque()
        # Turns reserved and not yet sent or given up (number -> reserved at): a pace change
        # starts from the earliest, so turns that came due but were not taken yet (their holder
        # was still asleep) keep their order instead of going all at once.
        self._pending: dict[int, float] = {}
        self._first: float | None = None
        # The most the gateway accepted a second lately (measured at 429s, fading with time):
        # no 429 sets the pace below FLOOR_SHARE of it.
        self._best = 0.0
        self._best_at = -math.inf
        self._clean = 0  # answers accepted since the last 429 event
        self.counts = {"sent": 0, "limited": 0, "cuts": 0}
        self._boards: dict[str, Board] = {}

    def __repr__(self) -> str:
        with self._lock:
            pace = "open" if self._rate is None else f"{self._rate:.3g}/s"
            state = "learned" if self._learned else "optimistic"
        return f"<Budget {self.label} key {self.fingerprint or '-'}: {pace}, {state}>"

    # -- what callers see -------------------------------------------------------------------------

    @property
    def rate(self) -> float | None:
        """Requests a second it paces at now (None: not paced)."""
        with self._lock:
            return self._rate

    @property
    def learned(self) -> bool:
        return self._learned

    def board(self, name: str) -> Board:
        """The status board of the family ``name`` on this gateway and key."""
        with self._lock:
            found = self._boards.get(name)
            if found is None:
                found = self._boards[name] = Board(self)
            return found

    def blocked_until(self) -> float:
        return self._blocked_until

    # -- turns ------------------------------------------------------------------------------------

    def _position(self, now: float) -> float:
        """How many turns have come due by ``now`` under the current pace (fractional)."""
        rate = self._rate
        if self._base_time is None or rate is None:
            return float(self._next)
        if now <= self._base_time:
            return self._base_turn
        return self._base_turn + (now - self._base_time) * rate

    def _rebase(self, now: float) -> None:
        """Start the current pace from ``now`` (or from the end of a block), keeping every turn
        not yet taken in its order."""
        at = max(now, self._blocked_until)
        position = min(self._position(now), float(self._next))
        for number, since in list(self._pending.items()):
            if since < now - STALE:  # its holder is long gone
                del self._pending[number]
        if self._pending:
            position = min(position, float(min(self._pending)))
        self._base_turn, self._base_time = position, at

    def _due(self, number: int, now: float) -> float:
        rate = self._rate
        if rate is None or self._base_time is None:
            return max(now, self._blocked_until)
        due = self._base_time + (number - self._base_turn) / rate
        return max(due, self._blocked_until)

    def reserve(self, now: float, deadline: float | None = None) -> Turn | None:
        """The next turn, or None (and nothing reserved) when it would come after ``deadline``."""
        with self._lock:
            if self._base_time is None:  # the first request: ``burst`` turns are due now
                self._base_time, self._base_turn = now, self._burst - 1.0
            # A budget that was idle has at most ``burst`` turns ready at once.
            number = max(self._next, math.ceil(self._position(now) - self._burst))
            if _too_late(self._due(number, now), now, deadline):
                return None
            self._next = number + 1
            self._pending[number] = now
            return Turn(number)

    def delay(self, turn: Turn, now: float, deadline: float | None = None) -> float | None:
        """Seconds until ``turn`` comes (0.0: now), or None when it now comes after ``deadline``."""
        with self._lock:
            due = self._due(turn.number, now)
        if _too_late(due, now, deadline):
            return None
        return max(0.0, due - now)

    def waits(
        self, turn: Turn, clock: Callable[[], float], deadline: float | None = None
    ) -> Iterator[float]:
        """The sleeps until ``turn`` comes; marks it sent when it comes. Raises :class:`Late`
        (having given the turn up) when it moves past ``deadline``.

        Each sleep is a share of the wait left, and short while the pace is still moving fast
        (a slow start, a recovery after a 429), so a turn that moved earlier is not missed."""
        while True:
            now = clock()
            left = self.delay(turn, now, deadline)
            if left is None:
                self.release(turn)
                raise Late(self.why_late(now))
            if left <= 0:
                self.sent(turn, now)
                return
            yield min(left, max(NAP_MIN, min(left / 4, self._nap_max())))

    def _nap_max(self) -> float:
        with self._lock:
            settled = (
                self._learned
                and self._hit is not None
                and self._rate is not None
                and self._rate >= RECOVER_SHARE * self._hit
            )
        return NAP_SETTLED if settled else NAP_MOVING

    def release(self, turn: Turn) -> None:
        """A turn that will not be used (its deadline passed, its task was cancelled). Later
        turns keep their times: the pace moves on."""
        with self._lock:
            self._pending.pop(turn.number, None)

    def sent(self, turn: Turn, now: float) -> None:
        with self._lock:
            self._pending.pop(turn.number, None)
            turn.sent_at = now
            self.counts["sent"] += 1
            if self._first is None:
                self._first = now

    def describe(self, now: float) -> str:
        """The pace in a few words, for ``%sora_config``: "no limit met yet", or "paced at 1.9
        requests a second, learned from 3 answers 429", and a block the gateway asked for."""
        with self._lock:
            if not self._learned:
                return "no limit met yet"
            refused = self.counts["limited"]
            if refused:
                source = f"{refused} answer{'s' if refused != 1 else ''} 429"
            else:
                source = "the gateway's rate-limit headers"
            pace = (
                "not paced"
                if self._rate is None
                else f"paced at {self._rate:.2g} requests a second"
            )
            text = f"{pace}, learned from {source}"
            if self._blocked_until >= now + 1.0:
                text += f"; every request held back {self._blocked_until - now:.0f} s more"
            return text

    def why_late(self, now: float) -> str:
        with self._lock:
            rate = self._rate
            blocked = self._blocked_until
        pace = f" (about {rate:.2g} requests a second)" if rate and self._learned else ""
        return f"the gateway's rate limit{pace} gives no turn in time" + (
            "; it asked to wait" if blocked > now else ""
        )

    # -- learning from answers --------------------------------------------------------------------

    def answered(
        self,
        turn: Turn | None,
        now: float,
        headers: Mapping[str, str] | None = None,
        *,
        limited: bool = False,
        wall: float | None = None,
    ) -> None:
        """Learn from an answer: ``limited`` when it was a rate-limit 429 (not an empty
        balance); its headers for ``Retry-After`` and rate-limit figures."""
        limits = read_limits(headers, wall=wall)
        wait = retry_after(headers, wall=wall)
        with self._lock:
            if limits is not None:
                self._told(limits, now)
            if limited:
                self._limited(turn, now, wait if wait is not None else None, limits)
            else:
                self._accepted.append(now)
                self._success(now)

    def _told(self, limits: Limits, now: float) -> None:
        """Headers say how many requests are left: they set the pace (and block when none is)."""
        pace, block = limits.pace(), limits.next_turn()
        if block is not None:
            self._block(now, now + block)
        if pace is not None:
            self._learned = True
            self._burst = 1.0
            self._rebase(now)
            self._rate = max(MIN_RATE, pace)
            self._hit = self._rate

    def _measured(self, now: float) -> tuple[float, int]:
        """Requests a second the gateway accepted lately: over the last WINDOW seconds or TURNS
        turns at the current pace, whichever is longer, but not from before the last 429 event
        (the gateway's bucket was empty then, so its burst is not counted as rate) unless that
        leaves less than MIN_SPAN. A 429 just came too, so the bucket is empty now: CREDIT
        counts the part-request building up."""
        while self._accepted and self._accepted[0] < now - KEEP:
            self._accepted.popleft()
        rate = self._rate or OPEN_RATE
        start = max(now - max(WINDOW, TURNS / rate), self._last_cut)
        if self._first is not None:
            start = max(start, self._first)
        credit = CREDIT
        if now - start < MIN_SPAN:
            start, credit = now - MIN_SPAN, 0.0
        count = sum(1 for t in self._accepted if t >= start)
        if count < MIN_COUNT <= len(self._accepted):
            # Too few to measure by: reach back to the MIN_COUNT-th latest answer.
            start, credit = min(start, self._accepted[-MIN_COUNT]), 0.0
            count = sum(1 for t in self._accepted if t >= start)
        return (count + credit) / (now - start), count

    def _limited(
        self, turn: Turn | None, now: float, wait: float | None, limits: Limits | None
    ) -> None:
        self.counts["limited"] += 1
        sent_at = turn.sent_at if turn is not None and turn.sent_at is not None else now
        if sent_at > self._last_cut:
            # A new 429 event: a request sent after the last cut was refused too. (Requests
            # sent before it were refused for the same excess: no second cut for them.)
            self.counts["cuts"] += 1
            measured, count = self._measured(now)
            self._rebase(now)
            if not self._learned or self._rate is None:
                # The first 429: what got through so far includes the gateway's burst, so the
                # accepted rate says little yet; start low and grow quickly until the next one.
                # The limit lies between what got through (a floor, inflated by the gateway's
                # burst) and the slow start's pace when the 429 came (a ceiling): start well
                # below their geometric mean and grow quickly until the next 429.
                guess = math.sqrt(measured * (self._rate or OPEN_RATE))
                self._rate = max(FIRST_FLOOR, guess * FIRST_SHARE)
                self._hit = None
            elif count < MIN_COUNT:
                # Too few answers ever to measure anything: only slow down.
                pace = self._rate
                self._rate = max(MIN_RATE, pace * DECREASE)
                self._hit = max(pace * HIT_SHARE, self._rate)
            elif not self._pending and measured < SATURATED * self._rate:
                # No request was waiting for a turn, and fewer went out than the pace allowed
                # (a notebook polling now and then): what got through measures the demand, not
                # the gateway's limit. (A block after a Retry-After lowers the measure too, but
                # then requests are waiting.)
                # Slow down, and grow back quickly, as before any limit was measured.
                self._rate = max(MIN_RATE, self._rate * DECREASE)
                self._hit = None
            else:
                pace = self._rate
                self._rate = max(MIN_RATE, min(pace * DECREASE, measured * CUT_SHARE))
                # Few answers make a rough measure: the pace the 429 came at bounds it too.
                self._hit = max(measured, pace * HIT_SHARE, self._rate)
            if count >= MIN_COUNT and self._learned:
                # A relay that refuses a share of requests whatever the pace would otherwise
                # have every 429 lower it further: not below a share of what it accepted lately.
                faded = self._best * math.exp(-(now - self._best_at) / BEST_FADE)
                if measured >= faded:
                    self._best, self._best_at = measured, now
                self._rate = max(self._rate, FLOOR_SHARE * min(faded, self._best))
            self._learned = True
            self._burst = 1.0  # a limit is known: no more than one turn at once after a pause
            self._last_cut = now
            self._clean = 0
            if wait is None and (limits is None or limits.next_turn() is None):
                wait = 1.0 / self._rate  # the gateway said nothing: one turn
        if wait is not None:
            self._block(now, now + wait)

    def _block(self, now: float, until: float) -> None:
        if until > self._blocked_until:
            self._rebase(now)
            self._blocked_until = until
            self._rebase(now)

    def _success(self, now: float) -> None:
        rate = self._rate
        if rate is None:
            return
        if not self._learned:
            rate *= SLOW_START_GROWTH
            if rate >= OPEN_RATE:
                self._rebase(now)
                self._rate = None
                return
        elif self._hit is None:
            rate += RECOVER_STEP
        elif rate < RECOVER_SHARE * self._hit:
            rate = min(RECOVER_SHARE * self._hit, rate + RECOVER_STEP)
        elif rate < HIT_MARGIN * self._hit:
            rate = min(HIT_MARGIN * self._hit, rate + INCREASE * rate)
        elif self._clean >= PROBE_AFTER:
            # Past the last 429's rate: probe slowly, and faster the longer none comes (the
            # limit may be higher than that 429 suggested, or it was raised since).
            rate += PROBE * rate * max(1.0, self._clean / PROBE_RAMP)
        rate = min(rate, OPEN_RATE)  # the cap: past it, pacing would hold nothing back
        self._clean += 1
        self._rebase(now)
        self._rate = rate

    # -- test support -----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rate": self._rate,
                "learned": self._learned,
                "hit": self._hit,
                "blocked_until": self._blocked_until,
                "next": self._next,
                **self.counts,
            }


class Late(Exception):
    """A turn would come after the caller's deadline (the driver raises the timeout error)."""


# -- the registry --------------------------------------------------------------------------------

_REGISTRY: dict[tuple[str, str], Budget] = {}
_REGISTRY_LOCK = threading.Lock()
# Fingerprints are keyed hashes with a secret of this process: they tell keys apart here and say
# nothing anywhere else.
_SALT = os.urandom(16)


def fingerprint(key: str | None) -> str:
    """A short keyed hash of ``key`` (never the key): which budget a key draws from."""
    if not key:
        return ""
    return hmac.new(_SALT, key.encode(), hashlib.sha256).hexdigest()[:12]


def gateway(base_url: str) -> str:
    """The gateway a budget belongs to: scheme, host, port and base path, lower-cased host."""
    parts = urlsplit(base_url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    host = (parts.hostname or "").lower()
    return f"{parts.scheme}://{host}:{port}{parts.path.rstrip('/')}"


def for_gateway(base_url: str, key: str | None) -> Budget:
    """The one budget of ``base_url`` with ``key`` in this process (made at first use)."""
    where, who = gateway(base_url), fingerprint(key)
    with _REGISTRY_LOCK:
        found = _REGISTRY.get((where, who))
        if found is None:
            found = _REGISTRY[(where, who)] = Budget(where, who)
        return found


def clear() -> None:
    """Forget every budget (tests; a new one starts optimistic)."""
    with _REGISTRY_LOCK:
        _REGISTRY.clear()


def _too_late(due: float, now: float, deadline: float | None) -> bool:
    """Whether a turn due at ``due`` misses ``deadline``. A turn that is due now is never late:
    a request that woke a moment past its deadline (a sleep that overshot on a loaded machine)
    goes out, and its caller decides what the deadline means; only waiting past it is refused."""
    return deadline is not None and due > deadline and due > now
