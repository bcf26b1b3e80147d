"""POST /v1/chat/completions: video models render while the answer streams their progress as
text (as the 6ai.chat, winfull and st-ai relays document it: api.6ai.chat,
api.winfull.cloud-ip.cc, api.sora2.pub), or as a Sora bridge streams it (`chat_flavor="sora2api"`,
`..shapes.sora2api`); other models give ordinary replies, forced tool calls, and streams with
optional usage (the st-ai docs, OpenAI's chat API)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import chat_text
from ..errors import ApiError, bad
from ..front import Conn, context
from ..jobs import Job
from ..shapes import chat as shapes
from ..shapes import sora2api
from ..shapes.links import media_url
from ..sse import ABORT, KEEPALIVE, event_stream, sse_response
from ..state import EmulatorState
from .inputs import json_body, unified_dims

__all__ = ["ChatRoutes", "sora2api_events", "video_events", "video_text"]


async def video_events(
    state: EmulatorState, job: Job, *, task_id: str, conn: Conn | None
) -> AsyncIterator[Any]:
    """Deltas (dicts) of the video text as the job moves, and KEEPALIVE/ABORT markers."""
    store, cfg = state.store, state.config
    text = shapes.VideoProgressText(chat_text.TEMPLATES[cfg.chat_template], task_id, state.cdn_url)
    for delta in text.opening(store.view(job)):
        yield delta
    # Look often enough to see each percent on short renders, rarely on long ones.
    interval = min(0.25, max(0.01, job.render_seconds / 100))
    keepalive = cfg.chat_keepalive_seconds
    last_beat = time.monotonic()
    while True:
        current = store.get(job.id)
        for delta in text.observe(store.view(current) if current is not None else None):
            yield delta
        if text.finished:
            return
        if state.closing.is_set() or (conn is not None and conn.disconnected):
            yield ABORT
            return
        if keepalive and time.monotonic() - last_beat >= keepalive:
            last_beat = time.monotonic()
            yield KEEPALIVE
        await asyncio.sleep(interval)


async def sora2api_events(
    state: EmulatorState, job: Job, *, conn: Conn | None
) -> AsyncIterator[Any]:
    """sora2api's data lines (already JSON text) as the job moves, and ABORT. No keep-alive
    comments: its generator yields only chunks and `[DONE]`."""
    store, cfg = state.store, state.config
    link = media_url(state.cdn_url, job.date, job.token, "mp4")
    tracker = sora2api.Sora2apiProgress(
        link, failure=cfg.sora2api_failure, interval=cfg.sora2api_status_interval
    )
    for event in tracker.opening(time.time()):
        yield sora2api.data_text(event)
    interval = min(0.25, max(0.01, job.render_seconds / 100))
    while True:
        current = store.get(job.id)
        view = store.view(current) if current is not None else None
        for event in tracker.observe(view, time.time()):
            yield sora2api.data_text(event)
        if tracker.finished:
            return
        if state.closing.is_set() or (conn is not None and conn.disconnected):
            yield ABORT
            return
        await asyncio.sleep(interval)


async def video_text(state: EmulatorState, job: Job, *, task_id: str) -> str:
    """The whole video text, once the job finished (for answers that are not streamed)."""
    deltas = []
    async for delta in video_events(state, job, task_id=task_id, conn=None):
        if delta is ABORT:
            raise ApiError(503, "The emulator is shutting down.")
        if isinstance(delta, dict):
            deltas.append(delta)
    return shapes.joined_text(deltas)


def _forced_tool(body: dict) -> str | None:
    """The function `tool_choice` names, when `tools` are given too."""
    choice = body.get("tool_choice")
    if not body.get("tools") or not isinstance(choice, dict):
        return None
    fn = choice.get("function")
    name = fn.get("name") if isinstance(fn, dict) else None
    return name if isinstance(name, str) and name else None


class ChatRoutes:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [Route("/v1/chat/completions", self.chat, methods=["POST"])]

    def is_video_model(self, model: str) -> bool:
        return model.lower().startswith("sora") or model in self.state.config.chat_video_models

    async def chat(self, request: Request) -> Response:
        body = await json_body(request)
        model, messages = body.get("model"), body.get("messages")
        if not isinstance(model, str) or not model:
            raise bad("Missing required parameter: 'model'.", "model", "missing_required_parameter")
        if not isinstance(messages, list) or not messages:
            raise bad(
                "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
            )
        stream = bool(body.get("stream"))
        if self.is_video_model(model):
            return await self._video(request, model, messages, stream)
        return self._ordinary(request, body, model, messages, stream)

    async def _video(self, request: Request, model: str, messages: list, stream: bool) -> Response:
        state, store = self.state, self.state.store
        sora2api_flavor = state.config.chat_flavor == "sora2api"
        if sora2api_flavor and not stream:
            # generation_handler.py handle_generation: without streaming nothing is generated,
            # only token availability is reported.
            return JSONResponse(sora2api.availability_completion(time.time()))
        prompt, images = chat_text.last_user_text(messages)
        if not prompt.strip():
            raise bad("The last user message must contain the prompt text.", "messages")
        if sora2api_flavor:
            # routes.py reads an image_url part only when it starts with "data:image".
            images = [u for u in images if u.startswith("data:image")]
        orientation, seconds = chat_text.chat_video_params(model, prompt)
        width, height = unified_dims("small", orientation)
        job = store.create(
            dialect="chat",
            job_id=store.ids.task(),
            model=model,
            prompt=prompt,
            width=width,
            height=height,
            seconds=seconds,
            orientation=orientation,
            params={"size": "small", "images": images, "duration": seconds},
            fail_reason=context(request).fail_reason,
        )
        if sora2api_flavor:
            ctx = context(request)
            body = event_stream(
                sora2api_events(state, job, conn=ctx.conn),
                line_ending=state.config.chat_line_ending,
                send_done=state.config.chat_send_done,
                cut_after=ctx.cut_after,
                conn=ctx.conn,
            )
            return sse_response(body)
        chat_id, created = store.ids.chat(), int(time.time())
        if not stream:
            text = await video_text(state, job, task_id=job.id)
            return JSONResponse(shapes.completion(chat_id, model, text, prompt, created=created))
        events = video_events(state, job, task_id=job.id, conn=context(request).conn)
        # Some relays put `usage` on the finishing chunk itself.
        usage = shapes.usage(prompt, "video") if state.config.chat_template == "en" else None
        return self._stream(request, chat_id, model, created, events, finish_usage=usage)

    def _ordinary(
        self, request: Request, body: dict, model: str, messages: list, stream: bool
    ) -> Response:
        cfg, ids = self.state.config, self.state.store.ids
        chat_id, created = ids.chat(), int(time.time())
        prompt, _ = chat_text.last_user_text(messages)
        tool = _forced_tool(body)
        if tool is not None:
            call = shapes.tool_call(ids.call(), tool, prompt)
            if not stream:
                answer = shapes.completion(
                    chat_id, model, None, prompt, created=created, tool_calls=[call]
                )
                return JSONResponse(answer)

            async def tool_events() -> AsyncIterator[Any]:
                yield {"role": "assistant", "content": None, "tool_calls": [{"index": 0, **call}]}

            return self._stream(
                request, chat_id, model, created, tool_events(), finish="tool_calls"
            )
        reply = chat_text.ordinary_reply(model, messages, cfg.seed, cfg.chat_chunks or 0)
        if not stream:
            return JSONResponse(shapes.completion(chat_id, model, reply, prompt, created=created))
        pieces = chat_text.split_chunks(reply, cfg.chat_chunks)
        delay = cfg.chat_chunk_delay

        async def events() -> AsyncIterator[Any]:
            for i, piece in enumerate(pieces):
                yield {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
                if delay:
                    await asyncio.sleep(delay)

        options = body.get("stream_options") or {}
        usage = shapes.usage(prompt, reply) if options.get("include_usage") else None
        return self._stream(request, chat_id, model, created, events(), usage=usage)

    def _stream(
        self,
        request: Request,
        chat_id: str,
        model: str,
        created: int,
        deltas: AsyncIterator[Any],
        *,
        finish: str = "stop",
        usage: dict | None = None,
        finish_usage: dict | None = None,
    ) -> Response:
        """The deltas as chunks, then the finishing chunk, then (if asked) the usage chunk."""
        cfg, ctx = self.state.config, context(request)

        async def chunks() -> AsyncIterator[Any]:
            async for item in deltas:
                is_marker = item is KEEPALIVE or item is ABORT
                yield item if is_marker else shapes.chunk(chat_id, model, created, item)
            extra = {"usage": finish_usage} if finish_usage else {}
            yield shapes.chunk(chat_id, model, created, {}, finish, **extra)
            if usage is not None:
                yield shapes.usage_chunk(chat_id, model, created, usage)

        body = event_stream(
            chunks(),
            line_ending=cfg.chat_line_ending,
            send_done=cfg.chat_send_done,
            cut_after=ctx.cut_after,
            conn=ctx.conn,
        )
        return sse_response(body)
