"""GET /v1/models: every model the emulator knows, for discovery."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..shapes.models import model_list
from ..state import EmulatorState

__all__ = ["ModelRoutes"]

# Ordinary chat and image models the emulator answers besides the configured video models.
OTHER_MODELS = ("gpt-4", "gpt-3.5-turbo", "dall-e-3", "dall-e-2")


class ModelRoutes:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [Route("/v1/models", self.models, methods=["GET"])]

    async def models(self, request: Request) -> Response:
        cfg = self.state.config
        names = [*cfg.unified_models, *cfg.openai_models, *cfg.chat_video_models, *OTHER_MODELS]
        return JSONResponse(model_list(names))
