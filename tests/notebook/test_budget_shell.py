"""One request budget per gateway and key in a kernel: every cell's requests draw their turns
from it, in a real InteractiveShell against a rate-limited emulator over loopback. Counts, never
times."""

from __future__ import annotations

import re

import pytest

import sora_nb
from tests.conftest import KEY
from tests.notebook.test_magics_shell import cell, env, ip, sora

__all__ = ["env", "ip", "sora"]  # fixtures, used by name

pytestmark = pytest.mark.timeout(180)


def api_requests(emu) -> int:
    """Requests the gateway's origin received (the video CDN is another origin, never paced)."""
    return sum(n for kind, n in emu.counters.items() if kind != "cdn")


def test_every_cell_and_a_script_client_share_the_budget_of_the_gateway_and_key(sora):
    emu = sora.emu
    # new-api's own limit: a bare 429, nothing said about when (middleware/rate-limit.go).
    emu.set(rate_limit=(3, 2), rate_limit_retry_after=False)
    shared = sora_nb.Client(base_url=emu.base_url, api_key=KEY).budget  # a script's client
    sent, refused = shared.counts["sent"], shared.counts["limited"]

    before = sora.ip.run_cell("%sora_config").result._repr_mimebundle_()["text/plain"]
    assert re.search(r"^requests\s+no limit met yet$", before, re.M), before

    grid = cell(sora, "%%sora_video -n 3\na kite over the dunes")
    assert grid.success, grid.error_in_exec
    sora.ip.user_ns["prompts"] = ["a red kite", "a blue boat", "a green frog"]
    batch = cell(sora, "%sora_batch --from prompts")
    assert batch.success, batch.error_in_exec
    assert [j.status for j in batch.result] == ["completed"] * 3

    # Every request of both cells took its turn in that one budget, and it saw every 429.
    assert shared.counts["sent"] - sent == api_requests(emu)
    assert shared.counts["limited"] - refused == sum(emu.counters_429.values())
    assert shared.learned or sum(emu.counters_429.values()) == 0
    # Six videos, each made once, whatever the 429s.
    prompts = sorted(job.prompt for job in emu.jobs.values())
    assert len(prompts) == 6 and len(set(prompts)) == 4  # the grid's three share a prompt
    assert emu.counters["create"] - emu.counters_429["create"] == 6

    # %sora_config says what the budget learned (its own billing requests included).
    after = cell(sora, "%sora_config").result._repr_mimebundle_()["text/plain"]
    total_429 = sum(emu.counters_429.values())
    expected = (
        rf"paced at [0-9.]+ requests a second, learned from {total_429} answers? 429"
        if total_429
        else "no limit met yet"
    )
    assert re.search(rf"^requests\s+{expected}", after, re.M), (after, emu.counters_429)
