"""POST /v1/video/create and GET /v1/video/query.

Sources: the 6ai.chat relay's API docs (api.6ai.chat), and for the query the relays that publish
/v1/video/query.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import bad, not_found
from ..front import context
from ..shapes import chat as chat_shapes
from ..shapes import unified as shapes
from ..shapes.openai import seconds_text
from ..state import EmulatorState
from .chat import video_text
from .inputs import json_body, number, unified_dims

__all__ = ["UnifiedRoutes"]

# The 6ai.chat docs mark every field required, `images: []` included for text-to-video.
REQUIRED = ("images", "model", "orientation", "prompt", "size", "duration")


class UnifiedRoutes:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [
            Route("/v1/video/create", self.create, methods=["POST"]),
            Route("/v1/video/query", self.query, methods=["GET"]),
        ]

    async def create(self, request: Request) -> Response:
        state, store = self.state, self.state.store
        cfg = state.config
        body = await json_body(request)
        for name in REQUIRED:
            if body.get(name) is None:
                raise bad(
                    f"Missing required parameter: '{name}'.", name, "missing_required_parameter"
                )
        model, prompt, size = body["model"], body["prompt"], body["size"]
        orientation, images = body["orientation"], body["images"]
        if not isinstance(model, str) or not model:
            raise bad("'model' must be a non-empty string.", "model")
        if not isinstance(prompt, str) or not prompt.strip():
            raise bad("'prompt' must be a non-empty string.", "prompt")
        if not isinstance(images, list) or not all(isinstance(u, str) for u in images):
            raise bad("'images' must be an array of image URLs ([] for text-to-video).", "images")
        if orientation not in ("portrait", "landscape"):
            raise bad(
                f"Invalid 'orientation': {orientation!r}; use 'portrait' or 'landscape'.",
                "orientation",
            )
        if not isinstance(size, str):
            raise bad("'size' must be a string.", "size")
        duration = number(body["duration"], "duration")
        rules = cfg.unified_models.get(model)
        if rules:
            if size not in rules["sizes"]:
                allowed = ", ".join(rules["sizes"])
                raise bad(f"Model {model} does not support size '{size}' ({allowed}).", "size")
            if duration not in [float(d) for d in rules["durations"]]:
                allowed = ", ".join(str(d) for d in rules["durations"])
                raise bad(
                    f"Model {model} does not support duration {seconds_text(duration)} "
                    f"({allowed}).",
                    "duration",
                )
        if duration <= 0 or duration > 120:
            raise bad("'duration' must be between 1 and 120 seconds.", "duration")
        width, height = unified_dims(size, orientation)
        job = store.create(
            dialect="unified",
            job_id=f"{model}:{store.ids.task()}",
            model=model,
            prompt=prompt,
            width=width,
            height=height,
            seconds=duration,
            orientation=orientation,
            params=dict(body),
            fail_reason=context(request).fail_reason,
        )
        if cfg.unified_answer == "chat":
            # The 6ai.chat docs' second shape: the relay waits for the video, answers a chat
            # completion.
            chat_id = store.ids.chat()
            text = await video_text(state, job, task_id=job.id)
            return JSONResponse(
                chat_shapes.completion(chat_id, model, text, prompt, created=int(time.time()))
            )
        return JSONResponse(shapes.create_answer(store.view(job)))

    async def query(self, request: Request) -> Response:
        store = self.state.store
        job_id = request.query_params.get("id")
        if not job_id:
            raise bad("Missing required parameter: 'id'.", "id", "missing_required_parameter")
        job = store.get(job_id)
        if job is None:
            raise not_found(f"Task '{job_id}' not found.")
        answer = shapes.query_answer(
            store.view(job), self.state.cdn_url, self.state.config.unified_variant
        )
        return JSONResponse(answer)
