"""One event loop: sora_nb's I/O runs on the kernel's own asyncio loop.

ipykernel executes each cell while its asyncio loop runs in the main thread. A blocking magic
runs its coroutine to completion on that same loop, made re-entrant by ``nest_asyncio2`` (the
maintained fork of nest_asyncio that ipykernel 7 itself requires), applied to that loop only, at
first need. Background work is a task on the loop: it keeps running after its cell returns, and
while other cells block. Outside a kernel (terminal IPython, scripts) a private loop serves.
No threads are used for I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_private_loop: asyncio.AbstractEventLoop | None = None
_patched: set[int] = set()
_background: set[asyncio.Task[Any]] = set()


def get_loop() -> asyncio.AbstractEventLoop:
    """The kernel's running loop, or a private loop kept for this process."""
    global _private_loop
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    if _private_loop is None or _private_loop.is_closed():
        _private_loop = asyncio.new_event_loop()
    return _private_loop


def _make_reentrant(loop: asyncio.AbstractEventLoop) -> None:
    if id(loop) in _patched:
        return
    import nest_asyncio2

    nest_asyncio2.apply(loop)
    _patched.add(id(loop))


def run(coro: Coroutine[Any, Any, T] | asyncio.Future[T]) -> T:
    """Run ``coro`` to completion on the kernel's loop; background tasks keep moving meanwhile.

    On KeyboardInterrupt (the kernel's interrupt button) the work is cancelled and the interrupt
    propagates, so the caller can say how to resume.
    """
    loop = get_loop()
    if loop.is_running():
        _make_reentrant(loop)
    task = asyncio.ensure_future(coro, loop=loop)
    try:
        return loop.run_until_complete(task)
    except BaseException:
        if not task.done():
            task.cancel()
            # Let the cancellation run its cleanup (closing responses) before returning.
            with contextlib.suppress(BaseException):
                loop.run_until_complete(asyncio.wait([task], timeout=2.0))
        raise


def spawn(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """Start ``coro`` in the background on the kernel's loop and return its task."""
    loop = get_loop()
    task = loop.create_task(coro)
    _background.add(task)  # keep a reference: the loop holds tasks only weakly
    task.add_done_callback(_background.discard)
    return task
