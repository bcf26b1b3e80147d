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


# Files that take longest are handed to workers first, so short ones fill the gaps at the end
# (xdist's loadfile hands out files in collection order): the browser, the tutorials (one
# kernel each, cell after cell), kernels, the campaigns, then sockets, then pure code.
LONGEST_FIRST = (
    "tests/browser/",
    "notebooks/",
    "tests/notebook/",
    "tests/reliability/",
    "tests/integration/",
    "tests/unit/",
)
# The slow tier: every test of these (a browser, a kernel, a campaign), and the integration
# tests marked one by one. `pytest -m "not slow"` leaves the emulator and pure-code tests.
SLOW_TIERS = LONGEST_FIRST[:4]


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: two workers a core, at least 4 and at most 8. The tests mostly wait (on
    emulated jobs, kernels, a browser), so more workers than cores keeps the cores busy."""
    return min(8, max(4, 2 * (os.cpu_count() or 1)))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return next(
            (i for i, p in enumerate(LONGEST_FIRST) if path.startswith(p)), len(LONGEST_FIRST)
        )

    items.sort(key=rank)  # stable: each file's tests stay together and in order
    for item in items:
        if item.nodeid.startswith(SLOW_TIERS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _fresh_budgets():
    """Every test starts with no request budget learned and no probe remembered: the
    process-wide registries would otherwise carry one test's 429s or probe into the next on the
    same address and key (a module's tests share one emulator, and ports are reused)."""
    from sora_nb import budget, probing

    budget.clear()
    probing.forget_in_process()
    yield
    budget.clear()
    probing.forget_in_process()


@pytest.fixture(scope="module")
def _module_emu():
    from sora_nb import builtin

    # As sora_nb starts its built-in emulator: requests to it are checked strictly.
    emulator = builtin.start(job_seconds=0.1, concurrency=8, seed=7, api_key=KEY)
    try:
        yield emulator
    finally:
        builtin.stop(emulator)


@pytest.fixture
def emu(_module_emu):
    """An emulator (fast jobs) requiring ``KEY``, as fresh as a new one but for its port: one
    running emulator per test module, reset before each test (knobs, jobs, ids, faults,
    counters, logs, rate-limit buckets)."""
    _module_emu.reset()
    yield _module_emu
    _module_emu.reset()


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
