"""When to ask about a job next. Pure: times come in as numbers, nothing sleeps here.

Fixed-interval polling either wastes requests (short interval) or notices completion late (long
interval). :class:`PollSchedule` estimates when the job will finish from its progress trend and
polls rarely while the end is far and often when it is near:

- while progress moves, it fits a line to recent (time, progress) points to predict the end;
  far from it (more than ``max_interval`` away) it polls every ``max_interval`` to refine the
  prediction, near it, it waits until just after the predicted end (``margin`` past it), and
  once past a prediction that proved early it polls every ``min_interval``;
- with no progress to go on (queued, or a gateway that reports none), it backs off from
  ``min_interval`` by ``growth`` per poll up to ``max_interval``;
- a server hint (``openai-poll-after-ms``, ``Retry-After``) is a floor: never poll sooner;
- the deadline caps every wait, so the last poll happens at the deadline, not after it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class PollSchedule:
    min_interval: float = 1.0
    max_interval: float = 30.0
    growth: float = 1.5
    # How long after the predicted end to look: small enough to notice the end quickly, large
    # enough that a slightly late job is usually done by then.
    margin: float = 0.5
    window: int = 6
    _points: deque[tuple[float, float]] = field(default_factory=deque, repr=False)
    _blind_delay: float | None = field(default=None, repr=False)
    _last_progress: float | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.min_interval <= 0 or self.max_interval < self.min_interval:
            raise ValueError("need 0 < min_interval <= max_interval")
        self._points = deque(maxlen=max(2, self.window))

    def observe(self, now: float, progress: float | None) -> None:
        """Record what a poll at ``now`` saw."""
        if progress is None:
            return
        if self._last_progress is not None and progress < self._last_progress:
            self._points.clear()  # progress went back (a retry upstream): start the trend again
        self._last_progress = progress
        if progress <= 0:
            self._points.clear()  # still at zero (queued): only the latest zero marks the start
        elif self._points and self._points[-1][1] == progress:
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
            self._blind_delay = None
        self._points.append((now, progress))

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
        rate = self.rate()
        if rate is None or self._last_progress is None:
            return None
        last_t = self._points[-1][0]
        remaining = (100.0 - self._last_progress) / rate - (now - last_t)
        return max(0.0, remaining)

    def next_delay(
        self, now: float, *, hint: float | None = None, deadline: float | None = None
    ) -> float:
        """Seconds to wait before the next poll."""
        eta = self.eta(now)
        if eta is not None:
            self._blind_delay = None
            delay = self.max_interval if eta > self.max_interval else eta + self.margin
        else:
            delay = (
                self.min_interval if self._blind_delay is None else self._blind_delay * self.growth
            )
            self._blind_delay = delay
        delay = min(max(delay, self.min_interval), self.max_interval)
        if hint is not None:
            delay = max(delay, hint)
        if deadline is not None:
            delay = min(delay, max(0.0, deadline - now))
        return delay
