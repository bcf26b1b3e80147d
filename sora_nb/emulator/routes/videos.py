"""The /v1/videos routes: OpenAI's Videos API, and on the same paths the st-ai gateway's
variant (its API docs, api.sora2.pub), told apart by the fields of the create request; with
`videos_flavor="newapi"`, new-api's handlers of the same paths (`.newapi`)."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..errors import RawError, bad, not_found
from ..files import serve_media
from ..front import context
from ..jobs import Job
from ..shapes import newapi as newapi_shapes
from ..shapes import openai as shapes
from ..shapes import stai as stai_shapes
from ..shapes.links import media_url
from ..state import EmulatorState
from .inputs import Upload, form_or_json, json_body, number, parse_wh
from .newapi import create_task, proxy_content, task_job, task_link

__all__ = ["VideoRoutes"]

# The st-ai docs' create fields; OpenAI's request has `seconds` and `size` instead.
STAI_KEYS = {"duration", "width", "height", "image", "fps"}
# GET /v1/videos/{id}/content?variant=…, and the file each variant is.
VARIANTS = {"video": "mp4", "thumbnail": "webp", "spritesheet": "jpg"}


class VideoRoutes:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [
            Route("/v1/videos", self.create, methods=["POST"]),
            Route("/v1/videos", self.list_videos, methods=["GET"]),
            Route("/v1/videos/{video_id}", self.retrieve, methods=["GET"]),
            Route("/v1/videos/{video_id}", self.delete, methods=["DELETE"]),
            Route("/v1/videos/{video_id}/content", self.content, methods=["GET"]),
            Route("/v1/videos/{video_id}/remix", self.remix, methods=["POST"]),
        ]

    def _job(self, job_id: str) -> Job:
        job = self.state.store.get(job_id)
        if job is None:
            raise not_found(f"Video with id '{job_id}' not found.")
        return job

    @property
    def _newapi(self) -> bool:
        return self.state.config.videos_flavor == "newapi"

    async def create(self, request: Request) -> Response:
        if self._newapi:
            # router/video-router.go: POST /v1/videos is controller.RelayTask as well.
            return await create_task(self.state, request)
        store, cfg = self.state.store, self.state.config
        fields, files, encoding = await form_or_json(request)
        prompt = fields.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise bad(
                "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter"
            )
        if "seconds" not in fields and "size" not in fields and STAI_KEYS & fields.keys():
            return self._stai_create(request, fields, prompt)
        model = fields.get("model") or "sora-2"
        seconds = fields.get("seconds", "4")
        size = fields.get("size", "720x1280")
        if isinstance(seconds, int | float) and not isinstance(seconds, bool):
            seconds = shapes.seconds_text(float(seconds))
        if not isinstance(seconds, str) or not re.fullmatch(r"\d+(\.\d+)?", seconds):
            raise bad(f"Invalid value for 'seconds': {seconds!r}.", "seconds")
        if not isinstance(size, str) or parse_wh(size) is None:
            raise bad(f"Invalid value for 'size': {size!r}; expected WIDTHxHEIGHT.", "size")
        rules = cfg.openai_models.get(model)
        if rules:
            if seconds not in rules["seconds"]:
                allowed = ", ".join(f"'{s}'" for s in rules["seconds"])
                raise bad(
                    f"Invalid value: '{seconds}'. Supported values are: {allowed}.", "seconds"
                )
            if size not in rules["sizes"]:
                allowed = ", ".join(f"'{s}'" for s in rules["sizes"])
                raise bad(
                    f"Invalid value: '{size}'. Supported values for {model} are: {allowed}.",
                    "size",
                )
        if not 0 < float(seconds) <= 120:
            raise bad("'seconds' must be between 1 and 120.", "seconds")
        width, height = parse_wh(size)  # type: ignore[misc]
        params: dict[str, Any] = {
            "model": model,
            "seconds": seconds,
            "size": size,
            "encoding": encoding,
        }
        reference = _input_reference(fields, files)
        if reference is not None:
            params["input_reference"] = reference
        job = store.create(
            dialect="openai",
            job_id=store.ids.video(),
            model=model,
            prompt=prompt,
            width=width,
            height=height,
            seconds=float(seconds),
            orientation="portrait" if height > width else "landscape",
            params=params,
            fail_reason=context(request).fail_reason,
        )
        return JSONResponse(shapes.video_object(store.view(job), fresh=True))

    def _stai_create(self, request: Request, fields: dict[str, Any], prompt: str) -> Response:
        store = self.state.store
        duration = number(fields.get("duration", 5.0), "duration")
        if not 0 < duration <= 120:
            raise bad("'duration' must be between 0 and 120 seconds.", "duration")
        width = int(number(fields.get("width", 1280), "width"))
        height = int(number(fields.get("height", 720), "height"))
        if not (16 <= width <= 4096 and 16 <= height <= 4096):
            raise bad("'width' and 'height' must be between 16 and 4096.", "width")
        fps = int(number(fields.get("fps", stai_shapes.DEFAULT_FPS), "fps"))
        model = fields.get("model") or "kling-v1"
        params = {
            k: fields[k]
            for k in ("image", "seed", "n", "response_format", "metadata")
            if k in fields
        }
        params.update(duration=duration, width=width, height=height, fps=fps)
        job = store.create(
            dialect="stai",
            job_id=store.ids.stai(),
            model=str(model),
            prompt=prompt,
            width=width,
            height=height,
            seconds=duration,
            orientation="portrait" if height > width else "landscape",
            params=params,
            fail_reason=context(request).fail_reason,
        )
        return JSONResponse(stai_shapes.create_answer(store.view(job)))

    async def retrieve(self, request: Request) -> Response:
        if self._newapi:
            # relay/relay_task.go: GET /v1/videos/{id} answers the platform's OpenAI video.
            job = task_job(self.state, request.path_params["video_id"])
            view = self.state.store.view(job)
            return JSONResponse(newapi_shapes.videos_object(view, link=task_link(self.state, view)))
        job = self._job(request.path_params["video_id"])
        hint = self.state.config.poll_hint_ms
        headers = {}
        if hint is not None:
            headers["openai-poll-after-ms"] = str(int(hint))
        view = self.state.store.view(job)
        # Answer in the family that created the job: the st-ai gateway's task, or OpenAI's video.
        obj = stai_shapes.task_object(view) if view.dialect == "stai" else shapes.video_object(view)
        return JSONResponse(obj, headers=headers)

    async def delete(self, request: Request) -> Response:
        video_id = request.path_params["video_id"]
        if not self.state.store.delete(video_id):
            raise not_found(f"Video with id '{video_id}' not found.")
        return JSONResponse(shapes.deleted(video_id))

    async def list_videos(self, request: Request) -> Response:
        store = self.state.store
        q = request.query_params
        order = q.get("order", "desc")
        if order not in ("asc", "desc"):
            raise bad("Invalid 'order': use 'asc' or 'desc'.", "order")
        try:
            limit = int(q.get("limit", "20"))
        except ValueError:
            raise bad("Invalid 'limit': expected an integer.", "limit") from None
        if not 1 <= limit <= 100:
            raise bad("'limit' must be between 1 and 100.", "limit")
        jobs = [j for j in store.all() if j.dialect == "openai"]
        jobs.sort(key=lambda j: j.seq, reverse=order == "desc")
        after = q.get("after")
        if after:
            ids = [j.id for j in jobs]
            if after not in ids:
                raise bad(f"Invalid 'after': no video with id '{after}'.", "after")
            jobs = jobs[ids.index(after) + 1 :]
        page = [store.view(j) for j in jobs[:limit]]
        return JSONResponse(shapes.list_page(page, has_more=len(jobs) > limit))

    async def remix(self, request: Request) -> Response:
        store = self.state.store
        if self._newapi and store.get(request.path_params["video_id"]) is None:
            # relay ResolveOriginTask: an unknown origin is a task error, not OpenAI's 404.
            body = newapi_shapes.task_error("task_not_exist", "task_origin_not_exist")
            raise RawError(400, body)
        source = self._job(request.path_params["video_id"])
        body = await json_body(request)
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise bad(
                "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter"
            )
        if source.status != "completed":
            raise bad(
                f"Video '{source.id}' is not completed ({source.status}); only completed videos "
                "can be remixed.",
                None,
                "invalid_state",
            )
        params = {k: v for k, v in source.params.items() if k != "input_reference"}
        job = store.create(
            dialect="openai",
            job_id=store.ids.video(),
            model=source.model,
            prompt=prompt,
            width=source.width,
            height=source.height,
            seconds=source.seconds,
            orientation=source.orientation,
            params=params,
            fail_reason=context(request).fail_reason,
            remixed_from=source.id,
        )
        return JSONResponse(shapes.video_object(store.view(job), fresh=True))

    async def content(self, request: Request) -> Response:
        cfg = self.state.config
        job = self.state.store.get(request.path_params["video_id"])
        # new-api's proxy (controller/video_proxy.go) answers for its own tasks, and for every
        # id when the relay is new-api (its flavour of /v1/videos, or no OpenAI family at all).
        as_proxy = self._newapi or "videos" not in cfg.families
        if as_proxy or (job is not None and job.dialect == "newapi"):
            return await proxy_content(self.state, request, job)
        job = self._job(request.path_params["video_id"])
        variant = request.query_params.get("variant", "video")
        ext = VARIANTS.get(variant)
        if ext is None:
            raise bad(
                f"Invalid 'variant': {variant!r}; use video, thumbnail or spritesheet.", "variant"
            )
        if job.status != "completed":
            raise not_found(
                f"Video '{job.id}' has no content: its status is {job.status}, not completed."
            )
        if self.state.config.content_redirect:
            url = media_url(self.state.cdn_url, job.date, job.token, ext)
            return RedirectResponse(url, status_code=302)
        return await serve_media(self.state, request, job, ext)


def _input_reference(fields: dict[str, Any], files: dict[str, Upload]) -> dict | None:
    """What the request gave as `input_reference`: an uploaded file (recorded by name, type and
    size), `{"image_url"|"file_id": …}`, the multipart spelling `input_reference[image_url]`, or
    a bare URL string (as Sora bridges take it)."""
    upload = files.get("input_reference")
    if upload is not None:
        if not (upload.content_type.startswith("image/") or upload.content_type == "video/mp4"):
            raise bad(
                f"Invalid file format for 'input_reference': {upload.content_type}. "
                "Supported: image/jpeg, image/png, image/webp, video/mp4.",
                "input_reference",
                "invalid_file_format",
            )
        if not upload.data:
            raise bad("'input_reference' is empty.", "input_reference")
        return {
            "filename": upload.filename,
            "content_type": upload.content_type,
            "bytes": len(upload.data),
        }
    ref = fields.get("input_reference")
    if isinstance(ref, dict):
        return {k: ref[k] for k in ("image_url", "file_id") if k in ref} or None
    for key in ("image_url", "file_id"):
        if f"input_reference[{key}]" in fields:
            return {key: fields[f"input_reference[{key}]"]}
    if isinstance(ref, str):
        return {"image_url": ref}
    return None
