"""How a job's reported progress moves while it holds a render slot: one curve per job, drawn
from a profile, seeded, and scaled by the nominal render time (`job_seconds`).

Real relays rarely report a smooth line. Profiles:

- ``linear``: 0 → 99 % evenly over `job_seconds`, then done (the emulator's original behaviour);
- ``queue_jumps``: waits upstream at 0 % (reported as queued) for 0.5–2× `job_seconds`, then
  renders for `job_seconds` with progress moving in 3–6 uneven jumps;
- ``plateau``: rises to 90–99 % in 0.4–0.8× `job_seconds`, then stalls there for 1.5–3×
  `job_seconds` before done (the "stuck at 99 %" relays);
- ``low_then_done``: climbs to a low 3–15 % early, stays there, then jumps straight to done,
  after 0.8–1.5× `job_seconds`;
- ``silent``: no progress at all until done, after `job_seconds` (relays that pass on no
  figure; each family answers that in its own way, see `shapes/`).

A curve never reads 100 %: only the store's "completed" does. Pure: no clock, no I/O.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["CAP", "PROFILES", "Curve", "make_curve"]

PROFILES = ("linear", "queue_jumps", "plateau", "low_then_done", "silent")
CAP = 0.99  # the most a running job reports


@dataclass(frozen=True)
class Curve:
    """One job's progress as a function of the seconds since it got a render slot."""

    profile: str
    total: float  # seconds from getting a slot to done
    wait: float = 0.0  # leading seconds queued upstream, at 0 %, before rendering starts
    # (seconds after the wait, fraction) knots, times strictly increasing; linear between them,
    # or held until the next one when `steps`.
    points: tuple[tuple[float, float], ...] = ()
    steps: bool = False

    def queued(self, elapsed: float) -> bool:
        """Still waiting upstream (reported as queued although it holds a slot)."""
        return elapsed < self.wait

    def at_share(self, share: float) -> float | None:
        """The fraction reported `share` of the way through (where a failing job stops)."""
        if self.profile == "linear":
            return min(CAP, share)  # also when total is 0
        return self.at(share * self.total)

    def at(self, elapsed: float) -> float | None:
        """The fraction to report `elapsed` seconds after getting the slot (None: no figure)."""
        if self.profile == "silent":
            return None
        if self.profile == "linear":
            if self.total <= 0:
                return CAP
            return max(0.0, min(CAP, elapsed / self.total))
        t = elapsed - self.wait
        if t <= 0:
            return 0.0
        prev_t, prev_p = 0.0, 0.0
        for knot_t, knot_p in self.points:
            if t < knot_t:
                if self.steps:
                    return min(CAP, prev_p)
                return min(CAP, prev_p + (knot_p - prev_p) * (t - prev_t) / (knot_t - prev_t))
            prev_t, prev_p = knot_t, knot_p
        return min(CAP, prev_p)


def make_curve(profile: str, base: float, rng: random.Random) -> Curve:
    """The curve of one job whose nominal render time is `base` seconds."""
    base = max(0.0, base)
    if profile == "linear":
        return Curve("linear", base)
    if profile == "silent":
        return Curve("silent", base)
    if profile == "queue_jumps":
        wait = base * rng.uniform(0.5, 2.0)
        n = rng.randint(3, 6)
        times = sorted({base * rng.uniform(0.05, 0.95) for _ in range(n)})
        top = rng.uniform(0.7, 0.95)
        weights = [rng.uniform(0.2, 1.0) for _ in times]  # uneven steps
        reached, points = 0.0, []
        for t, w in zip(times, weights, strict=True):
            reached += w / sum(weights) * top
            points.append((t, reached))
        return Curve("queue_jumps", wait + base, wait, tuple(points), steps=True)
    if profile == "plateau":
        rise = base * rng.uniform(0.4, 0.8)
        level = rng.uniform(0.90, CAP)
        stall = base * rng.uniform(1.5, 3.0)
        return Curve("plateau", rise + stall, 0.0, ((rise, level),))
    if profile == "low_then_done":
        total = base * rng.uniform(0.8, 1.5)
        low = rng.uniform(0.03, 0.15)
        return Curve("low_then_done", total, 0.0, ((0.1 * total, low),))
    raise ValueError(f"unknown progress profile {profile!r}; one of {PROFILES}")
