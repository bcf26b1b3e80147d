"""The emulator as a running thing: two uvicorn servers (the gateway origin and a CDN origin) in
background threads, over the shared state of `state.py`.

    with serve(job_seconds=0.5, seed=7) as emu:
        httpx.post(f"{emu.base_url}/video/create", json={...})
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import fields
from typing import Any

import uvicorn

from .app import build_api_app, build_cdn_app
from .config import EmulatorConfig
from .faults import Fault
from .state import EmulatorState, RequestRecord

__all__ = ["Emulator", "EmulatorConfig", "RequestRecord", "serve"]


class Emulator(EmulatorState):
    """A local stand-in gateway: the shared state served by two uvicorn servers (the gateway
    origin and a CDN origin) in background threads. Use `serve()` to get a running one."""

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        faults: Iterable[Fault] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        cdn_port: int = 0,
    ) -> None:
        super().__init__(config, faults)
        self._host, self._port, self._cdn_port = host, port, cdn_port
        self._servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    # --- lifecycle ---
    def start(self) -> Emulator:
        if self._servers:
            return self
        try:
            api_sock = _bind(self._host, self._port)
            try:
                cdn_sock = _bind(self._host, self._cdn_port)
            except OSError:
                api_sock.close()
                raise
        except OSError:
            self.store.close()  # nothing started: remove the store's temp dir now
            raise
        url_host = "127.0.0.1" if self._host in ("0.0.0.0", "") else self._host
        self.base_url = f"http://{url_host}:{api_sock.getsockname()[1]}/v1"
        self.cdn_url = f"http://{url_host}:{cdn_sock.getsockname()[1]}"
        try:
            # All configs before any thread: building a Config touches the uvicorn loggers.
            servers = [
                (
                    name,
                    uvicorn.Server(
                        uvicorn.Config(
                            app,
                            log_level="warning",
                            # No dictConfig: leave the host's logging (e.g. a kernel's) alone;
                            # warnings still reach stderr through Python's last-resort handler.
                            log_config=None,
                            lifespan="off",
                            http="h11",  # fault injection reaches the socket via h11's cycle
                            ws="none",
                            access_log=False,
                            timeout_graceful_shutdown=2,
                        )
                    ),
                    sock,
                )
                for name, app, sock in (
                    ("api", build_api_app(self), api_sock),
                    ("cdn", build_cdn_app(self), cdn_sock),
                )
            ]
            for name, server, sock in servers:
                thread = threading.Thread(
                    target=server.run,
                    kwargs={"sockets": [sock]},
                    name=f"sora-emulator-{name}",
                    daemon=True,
                )
                thread.start()
                self._servers.append((server, thread))
            deadline = time.monotonic() + 15
            while not all(s.started for s, _ in self._servers):
                if any(not t.is_alive() for _, t in self._servers):
                    raise RuntimeError("the emulator's server thread died while starting")
                if time.monotonic() > deadline:
                    raise RuntimeError("the emulator did not start within 15 s")
                time.sleep(0.005)
        except BaseException:
            self.stop()
            api_sock.close()
            cdn_sock.close()
            raise
        return self

    def stop(self) -> None:
        """Stop both servers, wait for their threads, remove rendered files. Idempotent."""
        self.closing.set()  # streams and blocking waits end on their own
        for server, _ in self._servers:
            server.should_exit = True
        for _, thread in self._servers:
            thread.join(timeout=10)
        self._servers.clear()
        self.store.close()

    close = stop

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._servers else "stopped"
        return f"<Emulator {state} base_url={self.base_url!r} cdn_url={self.cdn_url!r}>"


def _bind(host: str, port: int) -> socket.socket:
    # Bound here and handed to uvicorn, so the port is known before start and no race can steal it.
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every keep-alive answer waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


def serve(
    job_seconds: float = 2.0,
    concurrency: int = 4,
    seed: int | None = None,
    api_key: str | None = None,
    faults: Iterable[Fault] | None = None,
    *,
    render_scale: float = 0.25,
    poll_hint_ms: int | None = None,
    video_padding: int = 0,
    host: str = "127.0.0.1",
    port: int = 0,
    cdn_port: int = 0,
    **options: Any,
) -> Emulator:
    """Start an emulator on free loopback ports and return it, running.

    Use it as a context manager to stop it (`with serve(...) as emu:`), or call `emu.stop()`.
    `options` are the other `EmulatorConfig` fields (content_redirect, unified_answer, chat_*, …).
    """
    names = {f.name for f in fields(EmulatorConfig)}
    unknown = set(options) - names
    if unknown:
        raise TypeError(f"unknown emulator option(s): {', '.join(sorted(unknown))}")
    config = EmulatorConfig(
        job_seconds=job_seconds,
        concurrency=concurrency,
        seed=seed,
        api_key=api_key,
        render_scale=render_scale,
        poll_hint_ms=poll_hint_ms,
        video_padding=video_padding,
        **options,
    )
    return Emulator(config, faults, host=host, port=port, cdn_port=cdn_port).start()
