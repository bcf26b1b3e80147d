"""The emulator as a running thing: two uvicorn servers (the gateway origin and a CDN origin) in
background threads, the shared job store, counters and request logs.

    with serve(job_seconds=0.5, seed=7) as emu:
        httpx.post(f"{emu.base_url}/video/create", json={...})
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any, NamedTuple

import uvicorn

from .faults import KINDS, Fault, FaultSet
from .jobs import Ids, JobStore, JobsView

__all__ = ["Emulator", "EmulatorConfig", "RequestRecord", "serve"]


def _unified_models() -> dict[str, dict[str, tuple]]:
    return {
        "sora-2": {"sizes": ("small", "large"), "durations": (10, 15)},
        "sora-2-pro": {"sizes": ("large",), "durations": (15, 25)},
    }


def _openai_models() -> dict[str, dict[str, tuple]]:
    return {
        "sora-2": {"sizes": ("720x1280", "1280x720"), "seconds": ("4", "8", "12")},
        "sora-2-pro": {
            "sizes": ("720x1280", "1280x720", "1024x1792", "1792x1024"),
            "seconds": ("4", "8", "12"),
        },
    }


def _image_models() -> dict[str, dict[str, Any]]:
    return {
        "dall-e-3": {"sizes": ("1024x1024", "1792x1024", "1024x1792"), "max_n": 1},
        "dall-e-2": {"sizes": ("256x256", "512x512", "1024x1024"), "max_n": 10},
    }


@dataclass(frozen=True)
class EmulatorConfig:
    """Every knob of the emulator. Change them at runtime with `Emulator.set(...)`."""

    job_seconds: float = 2.0  # render time of one job once it starts rendering
    concurrency: int = 4  # jobs rendering at once; the rest queue (FIFO)
    seed: int | None = None  # ids, content and random faults deterministic by request order
    api_key: str | None = None  # the only bearer key accepted; None accepts any request
    render_scale: float = 0.25  # rendered file size relative to the reported size
    render_fps: int = 24
    poll_hint_ms: int | None = None  # `openai-poll-after-ms` on GET /v1/videos/{id}
    video_padding: int = 0  # bytes of a trailing `free` box appended to every served mp4
    content_redirect: bool = False  # /v1/videos/{id}/content answers 302 to the CDN
    unified_answer: str = "task"  # "chat": /v1/video/create answers a chat.completion (seed 000)
    # "alt": another relay's query answer: words queued/in_progress, top-level `progress` 0..100,
    # no pending_info, `status_update_time` in seconds, `error` as an object.
    unified_variant: str = "default"
    chat_line_ending: str = "\n"  # SSE framing: "\n" or "\r\n"
    chat_send_done: bool = True  # end streams with `data: [DONE]`
    chat_chunks: int | None = None  # ordinary models: split the reply into N chunks (None: words)
    chat_chunk_delay: float = 0.0  # seconds between chunks of ordinary chat replies
    chat_keepalive_seconds: float = 2.0  # SSE comment lines while a video renders
    chat_template: str = "zh"  # wording of video chat text: "zh" (seed relays) or "en" (+usage)
    chat_video_models: tuple[str, ...] = ()  # chat models that render video (besides "sora*")
    unified_models: dict[str, dict[str, tuple]] = field(default_factory=_unified_models)
    openai_models: dict[str, dict[str, tuple]] = field(default_factory=_openai_models)
    image_models: dict[str, dict[str, Any]] = field(default_factory=_image_models)

    def __post_init__(self) -> None:
        if self.job_seconds < 0:
            raise ValueError("job_seconds must be >= 0")
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if not 0 < self.render_scale <= 4:
            raise ValueError("render_scale must be in (0, 4]")
        if self.video_padding != 0 and self.video_padding < 8:
            raise ValueError("video_padding must be 0 or at least 8 (one mp4 box header)")
        if self.unified_answer not in ("task", "chat"):
            raise ValueError("unified_answer must be 'task' or 'chat'")
        if self.unified_variant not in ("default", "alt"):
            raise ValueError("unified_variant must be 'default' or 'alt'")
        if self.chat_template not in ("zh", "en"):
            raise ValueError("chat_template must be 'zh' or 'en'")
        if self.chat_line_ending not in ("\n", "\r\n"):
            raise ValueError(r"chat_line_ending must be '\n' or '\r\n'")
        if self.chat_chunks is not None and self.chat_chunks < 1:
            raise ValueError("chat_chunks must be >= 1")
        if not 1 <= self.render_fps <= 60:
            raise ValueError("render_fps must be in 1..60")


class RequestRecord(NamedTuple):
    """One request that reached the gateway origin."""

    kind: str
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names; Authorization kept (this is the gateway)
    query: str  # the raw query string, still URL-encoded


COUNTER_KINDS = KINDS  # create, poll, download, chat, images, list, delete, remix, cdn, other


class Emulator:
    """A local stand-in gateway. Use `serve()` to get a running one."""

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        faults: Iterable[Fault] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        cdn_port: int = 0,
    ) -> None:
        self._config = config or EmulatorConfig()
        seed = self._config.seed
        rng = random.Random(f"sora-emulator-faults:{seed}") if seed is not None else random.Random()
        self._faults = FaultSet(faults, rng)
        self.store = JobStore(Ids(seed), lambda: self._config)
        self._lock = threading.Lock()
        self._counters = dict.fromkeys(COUNTER_KINDS, 0)
        self._requests: list[RequestRecord] = []
        self._cdn_requests: list[dict[str, Any]] = []
        self._host, self._port, self._cdn_port = host, port, cdn_port
        self._servers: list[tuple[uvicorn.Server, threading.Thread]] = []
        self.closing = threading.Event()
        self.base_url = ""
        self.cdn_url = ""

    # --- knobs ---
    @property
    def config(self) -> EmulatorConfig:
        return self._config

    def set(self, **changes: Any) -> None:
        """Change knobs at runtime, e.g. `emu.set(job_seconds=0.1, concurrency=8)`.

        A new job_seconds applies to jobs created afterwards; concurrency applies at once.
        """
        names = {f.name for f in fields(EmulatorConfig)}
        unknown = set(changes) - names
        if unknown:
            raise TypeError(f"unknown emulator option(s): {', '.join(sorted(unknown))}")
        if "seed" in changes:
            raise TypeError("seed cannot change while running")
        with self.store.lock:
            self.store.tick()
            self._config = replace(self._config, **changes)
            self.store.tick()

    # --- observation ---
    @property
    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counters)

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    @property
    def cdn_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._cdn_requests]

    @property
    def jobs(self) -> JobsView:
        return JobsView(self.store)

    def reset_counters(self) -> None:
        """Zero the counters and forget the request logs."""
        with self._lock:
            self._counters = dict.fromkeys(COUNTER_KINDS, 0)
            self._requests.clear()
            self._cdn_requests.clear()

    def record(self, kind: str, scope: dict[str, Any]) -> None:
        headers: dict[str, str] = {}
        for name, value in scope.get("headers", []):
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        query = scope.get("query_string", b"").decode("latin-1")
        with self._lock:
            self._counters[kind] = self._counters.get(kind, 0) + 1
            if kind == "cdn":
                self._cdn_requests.append(
                    {
                        "method": scope["method"],
                        "path": scope["path"],
                        "query": query,
                        "headers": headers,
                    }
                )
            else:
                self._requests.append(
                    RequestRecord(kind, scope["method"], scope["path"], headers, query)
                )

    # --- faults ---
    def add_fault(self, fault: Fault) -> None:
        self._faults.add(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """The faults still active (copies; `times` shows what is left)."""
        return self._faults.snapshot()

    def pick_fault(self, kind: str) -> Fault | None:
        return self._faults.pick(kind)

    # --- lifecycle ---
    def start(self) -> Emulator:
        from .app import build_api_app, build_cdn_app

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
