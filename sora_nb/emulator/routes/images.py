"""POST /v1/images/generations (OpenAI's Images API; the st-ai docs): PNGs rendered per request.

Sources: https://platform.openai.com/docs/api-reference/images/create and api.sora2.pub.
"""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import ApiError, bad
from ..shapes import images as shapes
from ..shapes.links import media_url
from ..state import EmulatorState
from .inputs import json_body, parse_wh

__all__ = ["ImageRoutes"]


class ImageRoutes:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [Route("/v1/images/generations", self.generate, methods=["POST"])]

    async def generate(self, request: Request) -> Response:
        store, cfg = self.state.store, self.state.config
        body = await json_body(request)
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise bad(
                "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter"
            )
        model = body.get("model") or "dall-e-2"
        n = body.get("n", 1)
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10:
            raise bad("'n' must be an integer between 1 and 10.", "n")
        size = body.get("size") or "1024x1024"
        wh = parse_wh(size) if isinstance(size, str) else None
        if wh is None or not (16 <= wh[0] <= 4096 and 16 <= wh[1] <= 4096):
            raise bad(f"Invalid 'size': {size!r}.", "size")
        rules = cfg.image_models.get(model) or {}
        allowed = rules.get("sizes")
        if allowed and size not in allowed:
            raise bad(
                f"Invalid 'size' {size!r} for {model}; supported: {', '.join(allowed)}.", "size"
            )
        if n > rules.get("max_n", 10):
            raise bad(f"{model} supports at most n={rules['max_n']}.", "n")
        fmt = body.get("response_format") or "url"
        if fmt not in ("url", "b64_json"):
            raise bad("Invalid 'response_format': use 'url' or 'b64_json'.", "response_format")
        if "[fail]" in prompt:
            raise ApiError(
                400,
                "Your request was rejected as a result of our safety system (prompt contains "
                "[fail]).",
                "invalid_request_error",
                "content_policy_violation",
            )
        data = []
        for i in range(n):
            token = store.new_image_token()  # drawn in request order: deterministic
            png = await asyncio.to_thread(store.save_image, token, prompt, wh[0], wh[1], i)
            revised = shapes.revised_prompt(prompt, i, n, size)
            if fmt == "url":
                date = time.strftime("%Y%m%d", time.gmtime())
                url = media_url(self.state.cdn_url, date, token, "png")
                data.append(shapes.url_item(url, revised))
            else:
                data.append(shapes.b64_item(png, revised))
        return JSONResponse(shapes.answer(int(time.time()), data))
