"""Shared fixtures: the emulator on real loopback sockets, and both clients over it."""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import tempfile
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

KEY = "sk-test-canary-5b0f9e2c7d41"  # a configured key that must never appear in output

# The tests never write into the user's own data folder (the journal, the probe cache): tests
# that look at those files point SORA_NB_DATA_DIR at their own temporary folder.
os.environ.setdefault("SORA_NB_DATA_DIR", tempfile.mkdtemp(prefix="sora-nb-tests-"))


@pytest.fixture(autouse=True)
def _fresh_budgets():
    """Every test starts with no request budget learned: the process-wide registry would
    otherwise carry one test's 429s into the next on the same address and key (emulator ports
    are reused)."""
    from sora_nb import budget

    budget.clear()
    yield
    budget.clear()


@pytest.fixture
def emu():
    """A fresh emulator (fast jobs) requiring ``KEY``."""
    from sora_nb.emulator import serve

    with serve(job_seconds=0.4, concurrency=8, seed=7, api_key=KEY) as emulator:
        yield emulator


async def maybe(value: Any) -> Any:
    """Await ``value`` if the async client returned an awaitable; sync results pass through."""
    return await value if inspect.isawaitable(value) else value


async def collect(stream: Iterator[Any] | AsyncIterator[Any]) -> list[Any]:
    if hasattr(stream, "__aiter__"):
        return [item async for item in stream]
    return list(stream)


@pytest.fixture(params=["sync", "async"])
def run_client(request):
    """``run_client(emu, scenario, **options)`` runs ``async scenario(client)`` with each client.

    The same scenario body serves both twins: ``await maybe(client.method(...))``.
    """
    import sora_nb

    def runner(emulator, scenario, **options):
        options.setdefault("api_key", KEY)
        options.setdefault("poll_interval", 0.05)
        options.setdefault("max_poll_interval", 0.5)

        async def main():
            if request.param == "sync":
                with sora_nb.Client(base_url=emulator.base_url, **options) as client:
                    return await scenario(client)
            async with sora_nb.AsyncClient(base_url=emulator.base_url, **options) as client:
                return await scenario(client)

        # A worker thread has no event loop of its own, whatever the main thread is running
        # (a Playwright session, an IPython shell): asyncio.run always gets a clean one.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, main()).result()

    runner.kind = request.param
    return runner


def interruptible() -> None:
    """``preexec_fn`` for a child the test stops with Ctrl-C (SIGINT). A shell starts background
    jobs with SIGINT ignored, and children inherit that: a suite run with ``&`` would otherwise
    send its Ctrl-C into a process that never sees it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
