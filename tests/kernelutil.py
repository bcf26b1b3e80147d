"""A real Jupyter kernel, and what a front end receives from it (the iopub messages)."""

from __future__ import annotations

import os
import queue
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.manager import KernelManager

DISPLAY_TYPES = ("display_data", "update_display_data", "execute_result")


@dataclass
class Run:
    """The messages one execution produced, in order."""

    msg_id: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    reply: dict[str, Any] | None = None

    def of(self, *types: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["msg_type"] in types]

    @property
    def text(self) -> str:
        return "".join(m["content"]["text"] for m in self.of("stream"))

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [m["content"] for m in self.of("error")]

    def bundles(self, *types: str) -> list[dict[str, Any]]:
        return [m["content"]["data"] for m in self.of(*(types or DISPLAY_TYPES))]

    def bytes_to_frontend(self) -> int:
        """Bytes of display content (data of display/update/result messages) sent out."""
        return sum(len(str(v).encode()) for b in self.bundles() for v in b.values())

    @property
    def status(self) -> str | None:
        return self.reply["content"]["status"] if self.reply else None


class Kernel:
    """A kernel started in ``cwd`` with ``env``, driven like a front end would."""

    def __init__(self, km: KernelManager) -> None:
        self.km = km
        self.kc = km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def execute(
        self,
        code: str,
        *,
        timeout: float = 120.0,
        interrupt_after: float | None = None,
        on_message: Any = None,
    ) -> Run:
        """Run ``code`` and collect iopub messages until the kernel is idle again."""
        msg_id = self.kc.execute(code)
        run = Run(msg_id)
        deadline = time.monotonic() + timeout
        interrupt_at = None if interrupt_after is None else time.monotonic() + interrupt_after
        while True:
            now = time.monotonic()
            if interrupt_at is not None and now >= interrupt_at:
                self.km.interrupt_kernel()
                interrupt_at = None
            if now > deadline:
                raise TimeoutError(f"no idle after {timeout}s running {code[:60]!r}")
            try:
                msg = self.kc.get_iopub_msg(timeout=0.1)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                # Output for an earlier cell (a background job updating its own display).
                if on_message is not None:
                    on_message(msg)
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
            run.messages.append(msg)
            if on_message is not None:
                on_message(msg)
        run.reply = self.reply(msg_id)
        return run

    def reply(self, msg_id: str) -> dict[str, Any]:
        """The shell reply to ``msg_id``. Others are skipped: on a slow start ``wait_for_ready``
        asks for kernel_info more than once, and the later replies are still waiting."""
        deadline = time.monotonic() + 30
        while True:
            reply = self.kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply

    def drain(self, seconds: float) -> list[dict[str, Any]]:
        """Messages that arrive in the next ``seconds`` (from background work)."""
        out, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            with suppress(queue.Empty):
                out.append(self.kc.get_iopub_msg(timeout=0.1))
        return out

    def kill(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@contextmanager
def kernel(cwd: str | os.PathLike[str], env: dict[str, str]):
    km = KernelManager(kernel_name="python3")
    full_env = {**os.environ, **env}
    for name in ("SORA_BASE_URL", "SORA_API_KEY", "SORA_DIALECT"):
        if name not in env:
            full_env.pop(name, None)
    km.start_kernel(cwd=str(cwd), env=full_env)
    k = Kernel(km)
    try:
        yield k
    finally:
        if km.is_alive():
            k.kill()


def load_sora(k: Any, **config: Any) -> None:
    """``%load_ext sora_nb`` in kernel ``k`` with fast polling, HTML progress and ``config``
    (``SoraMagics`` traits)."""
    lines = [
        "%load_ext sora_nb",
        "%config SoraMagics.poll_interval = 0.2",
        "%config SoraMagics.progress = 'html'",
    ]
    lines += [f"%config SoraMagics.{name} = {value!r}" for name, value in config.items()]
    run = k.execute("\n".join(lines))
    assert run.status == "ok", run.errors
