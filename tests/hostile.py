"""A scripted hostile relay on loopback: each route answers exactly as a test says (drip-fed
bodies, huge bodies, error pages with status 200, keys echoed back). Real sockets, real HTTP
(Starlette on uvicorn, in a thread), so the clients are tested as they run against a relay.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Answer:
    """What one route answers: ``chunks`` sent ``delay`` seconds apart."""

    chunks: Callable[[], Iterator[bytes]]
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})
    delay: float = 0.0


@dataclass
class Served:
    """What happened to one answer: bytes sent, and whether the whole body went out."""

    path: str
    sent: int = 0
    completed: bool = False
    headers: dict[str, str] = field(default_factory=dict)


class Relay:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Answer] = {}
        self.served: list[Served] = []
        self.base_url = ""
        self.origin = ""

    def answer(self, method: str, path: str, answer: Answer) -> None:
        self.routes[(method, path)] = answer

    async def _handle(self, request: Request) -> Response:
        answer = self.routes.get((request.method, request.url.path))
        if answer is None:
            # What new-api answers for a route it lacks (controller/relay.go RelayNotFound).
            error = {
                "message": f"Invalid URL ({request.method} {request.url.path})",
                "type": "invalid_request_error",
                "param": "",
                "code": "",
            }
            return Response(json.dumps({"error": error}), status_code=404)
        record = Served(
            request.url.path, headers={k.lower(): v for k, v in request.headers.items()}
        )
        self.served.append(record)

        async def body() -> AsyncIterator[bytes]:
            for chunk in answer.chunks():
                if answer.delay:
                    await asyncio.sleep(answer.delay)
                yield chunk
                record.sent += len(chunk)
            record.completed = True

        return StreamingResponse(body(), status_code=answer.status, headers=answer.headers)


@contextmanager
def hostile_relay() -> Iterator[Relay]:
    relay = Relay()
    app = Starlette(
        routes=[Route("/{path:path}", relay._handle, methods=["GET", "POST", "DELETE"])]
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    relay.origin = f"http://127.0.0.1:{port}"
    relay.base_url = f"{relay.origin}/v1"
    try:
        yield relay
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


def once(data: bytes) -> Callable[[], Iterator[bytes]]:
    return lambda: iter([data])


def drip(data: bytes) -> Callable[[], Iterator[bytes]]:
    return lambda: (data[i : i + 1] for i in range(len(data)))


def huge(prefix: bytes, pad: int, suffix: bytes, piece: int = 1 << 20) -> Callable[[], Any]:
    def chunks() -> Iterator[bytes]:
        yield prefix
        for _ in range(pad // piece):
            yield b" " * piece
        yield suffix

    return chunks
