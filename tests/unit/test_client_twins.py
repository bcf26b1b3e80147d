"""Client and AsyncClient stay twins: Client is generated from AsyncClient and up to date, and
they have the same public methods, with the same signatures.

Their behaviour is tested once through both: the ``run_client`` fixture (tests/conftest.py) runs
every integration scenario with each."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

from sora_nb.client import AsyncClient, Client

# What only one twin has, by nature: its way of closing.
ONLY_SYNC = {"close"}
ONLY_ASYNC = {"aclose"}

ROOT = Path(__file__).resolve().parents[2]


def test_the_sync_client_is_generated_from_the_async_one_and_up_to_date():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "unasync.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_the_generator_swaps_every_async_word():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import unasync
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    source = (ROOT / "sora_nb" / "async_client.py").read_text(encoding="utf-8")
    generated = unasync.unasync(source)
    for word in ("async ", "await ", "AsyncClient", "aiter_", "aclose", "anext", "asyncio"):
        assert word in source, word  # the async client says it, and the sync one must not
        assert word not in generated, word
    assert "class Client(Transport)" in generated and "time.sleep(" in generated


def public(cls: type) -> dict[str, object]:
    return {
        name: member
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and (callable(member) or isinstance(member, property))
    }


def test_the_same_public_methods():
    sync, asyn = public(Client), public(AsyncClient)
    assert set(sync) - ONLY_SYNC == set(asyn) - ONLY_ASYNC


def test_the_same_signatures():
    sync, asyn = public(Client), public(AsyncClient)
    for name in sorted((set(sync) - ONLY_SYNC) & set(asyn)):
        a, b = sync[name], asyn[name]
        if isinstance(a, property):
            continue
        sa, sb = inspect.signature(a), inspect.signature(b)
        assert list(sa.parameters.values()) == list(sb.parameters.values()), name


def test_async_twins_are_awaitable_where_the_sync_ones_block():
    for name, member in public(AsyncClient).items():
        if name in ONLY_ASYNC or isinstance(member, property) or name == "prepare":
            continue
        if name == "stream_chat" or name == "prepare_chat":
            assert not inspect.iscoroutinefunction(member), name  # an iterator / a value
            continue
        assert inspect.iscoroutinefunction(member), name
