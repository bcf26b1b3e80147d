"""The gateway origin's handlers, one module per family: each reads and validates the request,
acts on the store, and answers with the shapes of `..shapes`."""

from __future__ import annotations

from starlette.routing import Route

from ..state import EmulatorState
from .chat import ChatRoutes
from .images import ImageRoutes
from .models import ModelRoutes
from .newapi import BillingRoutes, TaskRoutes
from .unified import UnifiedRoutes
from .videos import VideoRoutes

__all__ = ["api_routes"]


def api_routes(state: EmulatorState) -> list[Route]:
    # All of them: `EmulatorConfig.families` hides some at request time (front.serves).
    families = (
        UnifiedRoutes,
        VideoRoutes,
        TaskRoutes,
        ChatRoutes,
        ImageRoutes,
        ModelRoutes,
        BillingRoutes,
    )
    return [route for family in families for route in family(state).routes()]
