"""Client and AsyncClient stay twins: the same public methods, with the same signatures."""

from __future__ import annotations

import inspect

from sora_nb.client import AsyncClient, Client

# What only one twin has, by nature: closing, and the context-manager protocol.
ONLY_SYNC = {"close"}
ONLY_ASYNC = {"aclose", "closed"}


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
