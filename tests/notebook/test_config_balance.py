"""The key's balance in %sora_config, in a real InteractiveShell: the emulator's billing
routes, a relay without them, a key that may not read them."""

from __future__ import annotations

import re

import pytest

from tests.conftest import KEY
from tests.hostile import hostile_relay
from tests.notebook.test_magics_shell import cell, env, ip, load, sora

__all__ = ["env", "ip", "sora"]  # fixtures, used by name

pytestmark = pytest.mark.timeout(120)


def plain(result) -> str:
    return result.result._repr_mimebundle_()["text/plain"]


def test_config_shows_the_balance_the_relay_serves(sora):
    sora.emu.set(billing_granted=25.0, billing_used=12.66)
    text = plain(cell(sora, "%sora_config"))
    assert re.search(r"^balance\s+\$12\.34 left of \$25\.00 \(used \$12\.66\)$", text, re.M), text
    sora.read()
    assert cell(sora, "%sora_config --balance").success
    assert sora.read().strip() == "balance: $12.34 left of $25.00 (used $12.66)"
    billing = [r for r in sora.emu.requests if "billing" in r.path]
    assert len(billing) == 4 and all(r.method == "GET" for r in billing)
    assert sora.emu.counters["create"] == 0


def test_config_where_the_relay_serves_no_balance(env, monkeypatch):
    with hostile_relay() as relay:  # answers 404 "Invalid URL" for every route, as new-api does
        monkeypatch.setenv("SORA_DIALECT", "unified")
        load(env, monkeypatch, relay.base_url)
        result = env.ip.run_cell("%sora_config")
        assert result.success, result.error_in_exec
        text = plain(result)
        assert re.search(r"^balance\s+not served by this gateway$", text, re.M), text
        assert env.ip.run_cell("%sora_config --balance").success
        assert "balance: not served by this gateway" in env.read()


def test_config_when_the_key_may_not_read_the_balance(env, emu, monkeypatch):
    # The emulator refuses a wrong key with 401: %sora_config still shows every setting.
    load(env, monkeypatch, emu.base_url, key="sk-wrong-key-000111")
    text = plain(env.ip.run_cell("%sora_config"))
    assert re.search(r"^balance\s+not shown to this key \(401\)$", text, re.M), text
    assert "sk-wrong-key-000111" not in text
    assert re.search(r"^model\s+sora-2$", text, re.M)


def test_config_with_the_builtin_emulator_shows_its_balance(env):
    assert env.ip.run_cell("%load_ext sora_nb").success
    text = plain(env.ip.run_cell("%sora_config"))
    assert re.search(r"^balance\s+\$25\.00 left of \$25\.00 \(used \$0\.00\)$", text, re.M)
    assert KEY not in text
