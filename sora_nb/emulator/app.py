"""The two ASGI apps: the gateway origin (every dialect sora_nb speaks) and the CDN origin,
each a Starlette app behind the fault-injecting front."""

from __future__ import annotations

from starlette.applications import Starlette

from .errors import EXCEPTION_HANDLERS
from .files import cdn_routes
from .front import Front
from .routes import api_routes
from .state import EmulatorState

__all__ = ["build_api_app", "build_cdn_app"]


def build_api_app(state: EmulatorState) -> Front:
    app = Starlette(routes=api_routes(state), exception_handlers=EXCEPTION_HANDLERS)
    return Front(state, app, "api")


def build_cdn_app(state: EmulatorState) -> Front:
    app = Starlette(routes=cdn_routes(state), exception_handlers=EXCEPTION_HANDLERS)
    return Front(state, app, "cdn")
