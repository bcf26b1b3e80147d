"""What a key has left to spend, where the relay says: the billing routes that one-api and
new-api serve to API keys. Pure: the requests are built and the answers read here; the client
sends them (``Client.balance`` / ``AsyncClient.balance``).

The routes, as the relays serve them (new-api ``router/dashboard.go``; one-api the same), with
the API key as bearer (``middleware.TokenAuth``), with and without ``/v1``:

- ``GET /v1/dashboard/billing/subscription`` (``controller/billing.go`` ``GetSubscription``):
  ``hard_limit_usd`` (``soft_limit_usd`` and ``system_hard_limit_usd`` carry the same number) is
  the quota *granted*, remaining + used, in dollars where the site shows money (quota divided by
  ``QuotaPerUnit``); ``100000000`` for an unlimited token; ``access_until`` the token's expiry in
  Unix seconds (0: none). Older one-api releases sent what *remained* there instead.
- ``GET /v1/dashboard/billing/usage`` (``GetUsage``): ``total_usage`` is what was used, in cents
  (``amount * 100``); ``start_date`` and ``end_date`` are read by neither.
- Either handler answers a failed lookup with status 200 and an ``{"error": …}`` object.

The balance is ``hard_limit_usd - total_usage / 100``, as both relays compute an upstream
channel's balance from these same two routes (``controller/channel-billing.go``
``updateChannelBalance``), and the two requests go out as that function sends them: the
subscription first, then the usage from the first of the month (or 100 days back when
``has_payment_method`` is false) to today. A usage larger than the limit is an older one-api's
answer, whose limit was the balance itself.

Sites that show quota as tokens or in yuan (new-api's quota display type) put those numbers in
the ``*_usd`` fields; nothing in the answer says so, and sora_nb shows them as dollars.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from . import _exceptions as E
from . import flows
from .dialects import HttpRequest
from .flows import Flow
from .retry import RetryPolicy
from .runs import Context

__all__ = [
    "UNLIMITED",
    "Balance",
    "build_subscription",
    "build_usage",
    "flow",
    "parse_subscription",
    "parse_usage",
]

# controller/billing.go GetSubscription: what an unlimited token reports as its limit.
UNLIMITED = 100_000_000


@dataclass(frozen=True)
class Subscription:
    """``/dashboard/billing/subscription``, read."""

    limit: float  # hard_limit_usd
    has_payment_method: bool
    access_until: int  # Unix seconds; 0: no expiry


@dataclass(frozen=True)
class Balance:
    """What the relay says about the key: its limit, what it used, what is left.

    ``used`` and ``left`` are None when the relay serves no usage route; ``limit`` is None for
    an unlimited key."""

    limit: float | None
    used: float | None
    left: float | None
    access_until: int = 0

    @property
    def unlimited(self) -> bool:
        return self.limit is None

    def line(self) -> str:
        """``$12.34 left of $25.00 (used $12.66)``, and the key's expiry when it has one."""
        if self.unlimited:
            text = "unlimited key" + (f" (used {_usd(self.used)})" if self.used is not None else "")
        elif self.used is None:
            text = f"limit {_usd(self.limit)} (usage not served)"
        elif self.left is not None and self.limit is not None and self.used > self.limit:
            text = f"{_usd(self.left)} left (used {_usd(self.used)})"
        else:
            text = f"{_usd(self.left)} left of {_usd(self.limit)} (used {_usd(self.used)})"
        if self.access_until > 0:
            day = datetime.fromtimestamp(self.access_until, tz=timezone.utc).date()
            text += f"; key valid until {day.isoformat()}"
        return text


def _usd(amount: float | None) -> str:
    if amount is None:
        return "$?"
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def build_subscription() -> HttpRequest:
    return HttpRequest("GET", "dashboard/billing/subscription", "billing")


def build_usage(subscription: Subscription, today: date) -> HttpRequest:
    """The usage request, dated as new-api's ``updateChannelBalance`` dates it."""
    start = today.replace(day=1)
    if not subscription.has_payment_method:
        start = today - timedelta(days=100)
    params = {"start_date": start.isoformat(), "end_date": today.isoformat()}
    return HttpRequest("GET", "dashboard/billing/usage", "billing", params=params)


def _number(body: Mapping[str, Any], name: str, what: str) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise E.ProtocolError(f"the gateway's {what} has no number {name!r}: it is not a balance")
    return float(value)


def parse_subscription(body: Any) -> Subscription:
    if not isinstance(body, Mapping):
        raise E.ProtocolError("the gateway's billing subscription is not a JSON object")
    limit = _number(body, "hard_limit_usd", "billing subscription")
    until = body.get("access_until")
    valid = isinstance(until, int) and not isinstance(until, bool) and until > 0
    return Subscription(
        limit=limit,
        has_payment_method=bool(body.get("has_payment_method", True)),
        access_until=until if valid else 0,
    )


def parse_usage(body: Any) -> float:
    """Dollars used (the answer counts cents)."""
    if not isinstance(body, Mapping):
        raise E.ProtocolError("the gateway's billing usage is not a JSON object")
    return _number(body, "total_usage", "billing usage") / 100


def balance(subscription: Subscription, used: float | None) -> Balance:
    if subscription.limit >= UNLIMITED:
        return Balance(None, used, None, subscription.access_until)
    if used is None:
        return Balance(subscription.limit, None, None, subscription.access_until)
    # Current one-api and new-api: the limit is the total granted. An older one-api sent the
    # remainder as the limit, so a usage past it means the limit *is* what is left.
    left = subscription.limit - used if used <= subscription.limit else subscription.limit
    return Balance(subscription.limit, used, left, subscription.access_until)


def flow(ctx: Context, *, today: date | None = None, timeout: float | None = 10.0) -> Flow:
    """Ask the relay: the subscription, then the usage. Each is tried once (the balance is
    information, not worth a wait), and both must answer within ``timeout`` seconds.

    Raises what the gateway answered: NotFoundError where the routes are not served,
    AuthenticationError where the key may not read them, ProtocolError for an answer that is no
    balance. A relay with a subscription route but no usage route gives a Balance without usage.
    """
    policy = RetryPolicy(attempts=1)
    deadline = None if timeout is None else ctx.clock() + timeout
    reply = yield from flows.send(build_subscription(), policy, deadline=deadline, clock=ctx.clock)
    subscription = parse_subscription(ctx.load(reply, "reading the key's billing subscription"))
    day = today or date.today()
    try:
        request = build_usage(subscription, day)
        reply = yield from flows.send(request, policy, deadline=deadline, clock=ctx.clock)
        used: float | None = parse_usage(ctx.load(reply, "reading the key's billing usage"))
    except E.NotFoundError:
        used = None
    return balance(subscription, used)
