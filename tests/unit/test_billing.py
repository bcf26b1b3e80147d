"""sora_nb.billing: the requests one-api/new-api billing routes take, and how their answers read."""

from __future__ import annotations

from datetime import date

import pytest

from sora_nb import billing
from sora_nb._exceptions import ProtocolError
from sora_nb.billing import Balance, Subscription


def test_the_requests_go_as_new_apis_channel_billing_sends_them():
    sub = billing.build_subscription()
    assert (sub.method, sub.path, sub.kind) == ("GET", "dashboard/billing/subscription", "billing")
    assert not sub.creates
    paying = Subscription(25.0, has_payment_method=True, access_until=0)
    usage = billing.build_usage(paying, date(2025, 3, 17))
    assert usage.path == "dashboard/billing/usage"
    assert usage.params == {"start_date": "2025-03-01", "end_date": "2025-03-17"}
    trial = Subscription(25.0, has_payment_method=False, access_until=0)
    assert billing.build_usage(trial, date(2025, 3, 17)).params["start_date"] == "2024-12-07"


def test_a_new_api_answer():
    # controller/billing.go: the limit is remaining + used; usage is in cents.
    sub = billing.parse_subscription(
        {
            "object": "billing_subscription",
            "has_payment_method": True,
            "soft_limit_usd": 25,
            "hard_limit_usd": 25,
            "system_hard_limit_usd": 25,
            "access_until": 0,
        }
    )
    used = billing.parse_usage({"object": "list", "total_usage": 1266})
    balance = billing.balance(sub, used)
    assert balance == Balance(limit=25.0, used=12.66, left=pytest.approx(12.34), access_until=0)
    assert balance.line() == "$12.34 left of $25.00 (used $12.66)"


def test_an_unlimited_token():
    sub = billing.parse_subscription({"hard_limit_usd": 100000000, "access_until": 0})
    assert billing.balance(sub, 3.5).line() == "unlimited key (used $3.50)"
    assert billing.balance(sub, None).line() == "unlimited key"


def test_an_older_one_api_whose_limit_was_what_remained():
    sub = billing.parse_subscription({"hard_limit_usd": 4.0})
    assert billing.balance(sub, 21.0).line() == "$4.00 left (used $21.00)"


def test_no_usage_route_and_an_expiry():
    sub = billing.parse_subscription({"hard_limit_usd": 1234.5, "access_until": 1767225600})
    line = billing.balance(sub, None).line()
    assert line == "limit $1,234.50 (usage not served); key valid until 2026-01-01"


@pytest.mark.parametrize(
    "body",
    [
        "<html>welcome</html>",
        [],
        {"object": "list", "data": []},  # another API's object at that path
        {"hard_limit_usd": "25"},
        {"hard_limit_usd": True},
        {"hard_limit_usd": float("nan")},
    ],
)
def test_an_answer_that_is_no_subscription(body):
    with pytest.raises(ProtocolError):
        billing.parse_subscription(body)


def test_an_answer_that_is_no_usage():
    with pytest.raises(ProtocolError):
        billing.parse_usage({"object": "list"})
