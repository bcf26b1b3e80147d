"""Client.balance / AsyncClient.balance: the billing routes one-api and new-api serve to API
keys, against the emulator and a scripted relay over loopback."""

from __future__ import annotations

import pytest

import sora_nb
from tests.conftest import KEY, maybe
from tests.hostile import Answer, hostile_relay, once


def test_balance_from_the_billing_routes(emu, run_client):
    emu.set(billing_granted=25.0, billing_used=12.66)

    async def scenario(client):
        return await maybe(client.balance())

    balance = run_client(emu, scenario)
    assert balance.line() == "$12.34 left of $25.00 (used $12.66)"
    paths = [(r.method, r.path) for r in emu.requests if r.kind == "billing"]
    assert paths == [
        ("GET", "/v1/dashboard/billing/subscription"),
        ("GET", "/v1/dashboard/billing/usage"),
    ]
    assert all(r.headers.get("authorization") == f"Bearer {KEY}" for r in emu.requests)


def test_balance_where_the_relay_serves_no_billing(emu, run_client):
    emu.set(families=("unified", "videos"))

    async def scenario(client):
        with pytest.raises(sora_nb.NotFoundError) as caught:
            await maybe(client.balance())
        return str(caught.value)

    message = run_client(emu, scenario)
    assert "404" in message and KEY not in message
    billing = [r.path for r in emu.requests if "billing" in r.path]
    assert billing == ["/v1/dashboard/billing/subscription"]  # tried once, not retried


def test_balance_error_objects_with_status_200_and_refusals():
    with hostile_relay() as relay:
        # What both handlers answer when the lookup fails: an error object, status 200.
        relay.answer(
            "GET",
            "/v1/dashboard/billing/subscription",
            Answer(once(b'{"error": {"message": "token not found", "type": "new_api_error"}}')),
        )
        with (
            sora_nb.Client(base_url=relay.base_url, api_key=KEY) as client,
            pytest.raises(sora_nb.GatewayError, match="token not found"),
        ):
            client.balance()
        relay.answer(
            "GET",
            "/v1/dashboard/billing/subscription",
            Answer(once(b'{"error": {"message": "invalid token"}}'), status=401),
        )
        with (
            sora_nb.Client(base_url=relay.base_url, api_key=KEY) as client,
            pytest.raises(sora_nb.AuthenticationError) as refused,
        ):
            client.balance()
        assert KEY not in str(refused.value)
