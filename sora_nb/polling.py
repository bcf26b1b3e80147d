"""When to ask about a job next. Pure: times come in as numbers, nothing sleeps here.

Fixed-interval polling either wastes requests (short interval) or notices completion late (long
interval). :class:`PollSchedule` polls rarely while the end is predictably far or, by history,
unlikely yet, and about every ``stall_interval`` while the end may come at any moment:

- while progress moves evenly, it fits a line to recent (time, progress) points (each value at
  the time it was first seen) to predict the end. Far from it (more than ``max_interval``) it
  polls every ``max_interval`` to refine the prediction; then it looks when the trend reaches a
  point below ``final_progress`` (relays report whole percent and stop at 99 %), and from there
  every ``stall_interval`` / 2 until just after the trend reaches 100 % (``margin`` past it);
- when nothing predicts the end, it waits ``min_interval`` at first and ``growth`` times longer
  each poll after, up to ``stall_interval``. Nothing predicts the end when no progress is
  reported (silent relays, or 0 % while queued), when progress stalls (it stood still where
  the trend said it would have moved on, a plateau at 90-99 % say), when it moves in jumps
  (the trend cannot time the last one), or when a predicted end has passed. The first such
  wait grows with the time already spent without news (``growth`` - 1 times it) and with the
  job's age (``age_share`` of it): a job stuck at 97 % for a minute is not asked every second.
  Just past a predicted end while progress still moves, it starts from ``min_interval``;
- a history prior (``expected_seconds``: how long jobs like this one, same model on the same
  gateway, usually take from create to done) is the best guess for a job that tells nothing:
  until ``early_share`` of it has passed, such a job is asked every ``max_interval`` only;
- a server hint (``openai-poll-after-ms``, ``Retry-After``) is a floor: never poll sooner;
- the deadline caps every wait, so the last poll happens at the deadline, not after it;
- after failed polls it backs off (``failures``);
- many waits on one gateway, key and family share one list request where the family lists
  jobs (:class:`Board`, owned by the gateway's request budget).

Times count from the first call (``observe`` or ``next_delay``), less ``elapsed`` (how long the
job had run before, for a wait resumed on an existing job): :func:`sora_nb.flows.wait` makes
that first call at the create. Two presets: the default (``PollSchedule()``) and
:meth:`PollSchedule.fast`. On seeded realistic progress traces (``python -m bench poll_traces``,
``docs/benchmarks.md``) each, given a prior, sends no more requests per job than fixed polling
every 10 s (default) or 3 s (fast) and notices the end sooner, in median and 90th percentile.
Without a prior that holds where progress moves evenly; where a job tells nothing about its end
for long, nothing says when to look, and noticing sooner than fixed polling costs requests.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

# Progress that has stood still for as long as its trend needs to move this many points has
# stalled: the trend no longer says when the job ends. More than one point: figures are often
# whole percent, so a steady job may show the same figure for up to a point's time.
STALL_POINTS = 2.0

# The fast preset: the settings that differ from the default.
FAST: dict[str, Any] = {"stall_interval": 2.5, "margin": 0.25}


@dataclass
class PollSchedule:
    min_interval: float = 1.0
    max_interval: float = 30.0
    growth: float = 2.0
    # How long after the predicted end to look: small enough to notice the end quickly, large
    # enough that a slightly late job is usually done by then.
    margin: float = 0.5
    window: int = 6
    # The longest wait while nothing predicts the end: what bounds how late such an end is seen.
    stall_interval: float = 8.0
    # Typical seconds from create to done of earlier jobs like this one (None: unknown).
    expected_seconds: float | None = None
    # Until this share of ``expected_seconds`` has passed, a job that tells nothing is asked
    # only every ``max_interval``.
    early_share: float = 0.5
    # The last figure many relays report before done (they never say 100): the first look for
    # the end is when the trend reaches it, the next when it reaches 100.
    final_progress: float = 99.0
    # The first wait without news is at least this share of the job's age: a job that has run
    # for minutes is not asked again within a second of its progress standing still.
    age_share: float = 0.1
    # Seconds the job had already run when this schedule started (a wait resumed on an old job).
    elapsed: float = 0.0
    _points: deque[tuple[float, float]] = field(default_factory=deque, repr=False)
    _blind_delay: float | None = field(default=None, repr=False)
    _last_progress: float | None = field(default=None, repr=False)
    _origin: float | None = field(default=None, repr=False)
    _since: float | None = field(default=None, repr=False)  # first sight of the current value
    _seen: float | None = field(default=None, repr=False)  # latest sight of the current value
    _lumpy: bool = field(default=False, repr=False)  # progress has moved in jumps

    def __post_init__(self) -> None:
        if self.min_interval <= 0 or self.max_interval < self.min_interval:
            raise ValueError("need 0 < min_interval <= max_interval")
        if self.growth < 1:
            raise ValueError("growth must be at least 1")
        if self.stall_interval <= 0:
            raise ValueError("stall_interval must be positive")
        if self.expected_seconds is not None and self.expected_seconds < 0:
            raise ValueError("expected_seconds must be positive (or None: unknown)")
        if self.elapsed < 0:
            raise ValueError("elapsed must not be negative")
        self._points = deque(maxlen=max(2, self.window))

    @classmethod
    def fast(cls, **overrides: Any) -> PollSchedule:
        """The preset that aims at polling every 3 s: notice sooner, with no more requests
        (``stall_interval`` 2.5 s, ``margin`` 0.25 s; any setting can be overridden)."""
        return cls(**{**FAST, **overrides})

    def observe(self, now: float, progress: float | None) -> None:
        """Record what a poll at ``now`` saw."""
        self._start(now)
        if progress is None:
            return  # no figure: the time without news goes on counting from the last change
        held = 0.0  # how long the previous value was seen standing still
        if self._last_progress is None or progress != self._last_progress:
            if self._since is not None and self._seen is not None and self._last_progress:
                held = self._seen - self._since
            self._since = now
            self._blind_delay = None  # news: the next wait without a prediction starts afresh
        self._seen = now
        if self._last_progress is not None and progress < self._last_progress:
            self._points.clear()  # progress went back (a retry upstream): start the trend again
            self._lumpy = False
            held = 0.0
        self._last_progress = progress
        if progress <= 0:
            self._points.clear()  # still at zero (queued): only the latest zero marks the start
            self._lumpy = False
        elif self._points and self._points[-1][1] == progress:
            self._lumpy = self._lumpy or self.stalled()
            return  # no news; the time of first sight is the better estimate
        elif (
            len(self._points) == 1
            and self._points[0][1] <= 0
            and now - self._points[0][0] > self.min_interval
        ):
            # The job left the queue somewhere between the last zero and now; unless that zero
            # is recent, taking it as the start would make the rate look slow and the end late.
            # Start from here, and look again soon to learn the rate.
            self._points.clear()
        self._points.append((now, progress))
        rate = self.rate()
        if rate is not None and rate * held >= STALL_POINTS:
            self._lumpy = True  # it stood still, then jumped: the trend cannot time the end

    def _start(self, now: float) -> None:
        if self._origin is None:
            self._origin = now - self.elapsed

    def rate(self) -> float | None:
        """Progress points per second from recent observations, or None if unknown."""
        points = list(self._points)
        if len(points) < 2:
            return None
        t0 = sum(t for t, _ in points) / len(points)
        p0 = sum(p for _, p in points) / len(points)
        var = sum((t - t0) ** 2 for t, _ in points)
        if var <= 0:
            return None
        slope = sum((t - t0) * (p - p0) for t, p in points) / var
        return slope if slope > 0 else None

    def eta(self, now: float) -> float | None:
        """Predicted seconds until the job reaches 100%, or None."""
        remaining = self._until(now, 100.0)
        return None if remaining is None else max(0.0, remaining)

    def _until(self, now: float, level: float) -> float | None:
        """Seconds until the trend reaches ``level`` (negative: it did so that long ago)."""
        rate = self.rate()
        if rate is None or self._last_progress is None:
            return None
        return (level - self._last_progress) / rate - (now - self._points[-1][0])

    def stalled(self) -> bool:
        """Whether progress has stood still for longer than its trend allows (then the trend's
        prediction says nothing about the end)."""
        rate = self.rate()
        if rate is None or self._since is None or self._seen is None:
            return False
        return rate * (self._seen - self._since) >= STALL_POINTS

    def next_delay(
        self,
        now: float,
        *,
        hint: float | None = None,
        deadline: float | None = None,
        failures: int = 0,
    ) -> float:
        """Seconds to wait before the next poll. ``failures``: polls failed in a row just before
        (a 5xx, a reset): back off as when nothing is known, 1 s, 2 s, 4 s… up to
        ``max_interval``."""
        if failures:
            backoff = min(self.max_interval, 2.0**failures * 0.5)
            hint = backoff if hint is None else max(hint, backoff)
        self._start(now)
        to_end = self._until(now, 100.0)
        if to_end is None or self._lumpy or self.stalled():
            delay = self._without_prediction(now)
        elif to_end > 0:
            self._blind_delay = None
            # The end may come from a point below the final figure (whole percent) to 100 %:
            # in that window, look every half stall_interval, and just after it ends.
            to_window = max(0.0, self._until(now, min(self.final_progress, 100.0) - 1.0) or 0.0)
            if to_window > self.max_interval:
                delay = self.max_interval  # far: refine the trend
            else:
                delay = min(to_end + self.margin, to_window + self._cap() / 2)
        else:
            delay = self._without_prediction(now, overdue=-to_end)
        delay = min(max(delay, self.min_interval), self.max_interval)
        if hint is not None:
            delay = max(delay, hint)
        if deadline is not None:
            delay = min(delay, max(0.0, deadline - now))
        return delay

    def _cap(self) -> float:
        return min(max(self.stall_interval, self.min_interval), self.max_interval)

    def _without_prediction(self, now: float, *, overdue: float | None = None) -> float:
        """The wait when nothing predicts the end: queued, silent, stalled, in jumps, or
        ``overdue`` seconds past a predicted end while progress still moves."""
        cap = self._cap()
        origin = self._origin if self._origin is not None else now
        if self.expected_seconds is not None and overdue is None:
            early = origin + self.early_share * self.expected_seconds
            if now + cap < early:
                return min(early - now, self.max_interval)
        if self._blind_delay is None:
            if overdue is not None:
                # Past a predicted end while progress still moves: the end is near.
                delay = max(self.min_interval, (self.growth - 1.0) * overdue)
            else:
                # The first wait without news grows with the time already spent without it.
                quiet = now - (self._since if self._since is not None else origin)
                delay = max(
                    self.min_interval,
                    (self.growth - 1.0) * quiet,
                    self.age_share * (now - origin),
                )
        else:
            delay = self._blind_delay * self.growth
        delay = min(delay, cap)
        self._blind_delay = delay
        return delay


# -- the status board: when many waits poll at once, one list request for all -------------------


class Paced(Protocol):
    """What a board reads of the request budget it shares (``budget.Budget``): its pace."""

    @property
    def rate(self) -> float | None: ...


# A list answer serves the polls due within BOARD_WINDOW seconds after it arrived (while the
# budget paces, about two turns, up to BOARD_MAX_WINDOW), and one is asked for only when at least
# two waits are due within that window.
BOARD_WINDOW = 0.25
BOARD_MAX_WINDOW = 2.0
# After a list request failed, waits poll on their own for this long before one lists again.
BOARD_QUIET = 10.0
# A list on its way for longer than this is taken as lost (its wait died without saying so).
BOARD_STALE = 900.0
# Jobs per list page asked for (OpenAI's maximum), and at most this many pages per list.
BOARD_PAGE = 100
BOARD_MAX_PAGES = 5


class Board:
    """What the waits on one gateway, key and family share: who waits, when each is due next,
    and the latest list answer (each listed job's own answer, by id).

    One list request answers every wait whose job is in it; a job not in it polls on its own. A
    single wait never lists (``ask`` needs two due). Pure; a lock makes it safe across threads.
    """

    page_size = BOARD_PAGE

    def __init__(self, budget: Paced | None = None) -> None:
        self.budget = budget
        self._lock = threading.Lock()
        self._waiting: dict[str, float] = {}  # job id -> when its wait polls next
        self._items: dict[str, Any] = {}  # job id -> its answer in the latest list
        self._taken = -math.inf  # when the latest list answer arrived
        self._listing: float | None = None  # since when a list is on its way
        self._quiet_until = -math.inf
        self._disabled = False
        self.counts = {"lists": 0, "served": 0, "failed": 0}

    def __repr__(self) -> str:
        return f"<Board {len(self._waiting)} waiting, {self.counts}>"

    def window(self) -> float:
        rate = self.budget.rate if self.budget is not None else None
        if rate is None:
            return BOARD_WINDOW
        return min(BOARD_MAX_WINDOW, max(BOARD_WINDOW, 2.0 / rate))

    def join(self, job_id: str, now: float) -> None:
        with self._lock:
            self._waiting[job_id] = now

    def leave(self, job_id: str) -> None:
        with self._lock:
            self._waiting.pop(job_id, None)
            if not self._waiting:
                self._items.clear()

    def due(self, job_id: str, at: float) -> None:
        """The wait of ``job_id`` polls next at ``at``."""
        with self._lock:
            if job_id in self._waiting:
                self._waiting[job_id] = at

    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    def ask(
        self, job_id: str, now: float, seen: float, asked: float | None = None
    ) -> tuple[str, Any, float]:
        """What the wait of ``job_id`` does at ``now``, having been due since ``asked`` (default
        ``now``), as ``(action, answer, as_of)``:

        - ``"cached"``: a list answer newer than ``seen`` (the news it had last), and at most a
          window older than ``asked`` (a list it waited for counts however long it waited),
          holds its job: ``answer`` is its job's answer, ``as_of`` when it came;
        - ``"wait"``: a list is on its way: look again shortly;
        - ``"list"``: fetch the list for every wait (then call :meth:`listed`);
        - ``"own"``: poll on its own (its job is not in a fresh list, or it is alone).
        """
        window = self.window()
        asked = now if asked is None else asked
        with self._lock:
            if self._disabled or now < self._quiet_until:
                return ("own", None, now)
            if self._taken > seen and asked - self._taken <= window:
                if job_id in self._items:
                    self.counts["served"] += 1
                    return ("cached", self._items[job_id], self._taken)
                return ("own", None, now)
            if self._listing is not None and now - self._listing < BOARD_STALE:
                return ("wait", None, now)
            soon = sum(1 for due in self._waiting.values() if due <= now + window)
            if soon >= 2:
                self._listing = now
                self.counts["lists"] += 1
                return ("list", None, now)
            return ("own", None, now)

    def pages(self) -> int:
        """How many pages a list may fetch: enough for every wait, BOARD_MAX_PAGES at most."""
        with self._lock:
            return min(BOARD_MAX_PAGES, len(self._waiting) // BOARD_PAGE + 1)

    def missing(self, found: set[str]) -> bool:
        """Whether some wait's job is not among ``found`` yet."""
        with self._lock:
            return any(job_id not in found for job_id in self._waiting)

    def listed(self, items: Mapping[str, Any], now: float) -> None:
        """A list answer arrived at ``now``: each listed job's answer, by id."""
        with self._lock:
            self._items = dict(items)
            self._taken = now
            self._listing = None

    def list_failed(self, now: float, *, permanent: bool) -> None:
        """The list request failed; ``permanent``: the gateway has no such route (stop asking).
        Otherwise the waits poll on their own for BOARD_QUIET seconds."""
        with self._lock:
            self._listing = None
            self.counts["failed"] += 1
            self._quiet_until = now + BOARD_QUIET
            if permanent:
                self._disabled = True
