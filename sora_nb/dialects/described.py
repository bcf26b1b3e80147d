"""Relays described as data: a family sora_nb does not ship, in a few lines of TOML (or a dict),
with no code. Pure, except :func:`load_file` which reads the file.

A description says where the routes are, how to shape the create body, and where the answers
keep the id, status, progress, link and error (dotted paths, the first that holds a value
wins). Example (UCloud ModelVerse, from its API docs)::

    [dialects.modelverse]
    auth = "bare"                     # the key alone, no "Bearer" (as their examples send it)
    id = ["output.task_id"]
    status = ["output.task_status"]
    link = ["output.urls.0"]
    error = ["output.error_message"]
    words = { Pending = "queued", Running = "in_progress", Success = "completed" }

    [dialects.modelverse.create]
    path = "tasks/submit"
    body.model = "{model}"
    body.input.prompt = "{prompt}"
    body.input.first_frame_url = "{image}"
    body.parameters.size = "{size}"
    body.parameters.duration = "{duration:int}"

    [dialects.modelverse.poll]
    path = "tasks/status"
    query.task_id = "{id}"

Placeholders in ``body`` and ``query``: ``{prompt}``, ``{model}``, ``{size}``,
``{orientation}``, ``{aspect_ratio}`` (16:9 or 9:16), ``{duration}`` (``{duration:int}``,
``{duration:str}``), ``{image}`` (the first reference image, a URL or a data URL), ``{images}``
(all of them, a list), ``{id}``. A key whose placeholder has no value is left out. Paths may use
``{id}`` and, for creates, ``{model}`` (``tasks/{id}``, ``generateTask/{model}``).
A path step into a string that holds JSON reads that JSON (APIXO keeps its links in
``data.resultJson``, a JSON-encoded string).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._exceptions import ConfigError, ProtocolError
from ..models import (
    Job,
    Status,
    VideoRequest,
    normalize_status,
    to_datetime,
    to_progress,
)
from ._base import HttpRequest, ImageRef, as_float, error_text, find_video_link, first, link, seg
from ._dialect import Abilities, Dialect

__all__ = ["DescribedDialect", "described", "load_file"]

_STATUSES = ("queued", "in_progress", "completed", "failed", "cancelled")
_PLACEHOLDER = re.compile(r"^\{(\w+)(?::(int|str|float))?\}$")
_NAMES = (
    "prompt",
    "model",
    "size",
    "orientation",
    "aspect_ratio",
    "duration",
    "image",
    "images",
    "id",
)
_ASPECT = {"landscape": "16:9", "portrait": "9:16"}
_KEYS = {
    "description",
    "auth",
    "envelope",
    "create",
    "poll",
    "content",
    "id",
    "status",
    "progress",
    "progress_fraction",
    "link",
    "error",
    "words",
    "images",
    "rules",
}
_ROUTE_KEYS = {"path", "method", "body", "query"}


def _paths(value: Any, what: str, errors: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        errors.append(f'{what}: give dotted paths as a list of text, e.g. ["output.task_id"]')
        return ()
    return tuple(value)


def _route(value: Any, what: str, errors: list[str], *, body: bool) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"path": value}
    if not isinstance(value, Mapping):
        errors.append(f'{what}: give a table with a path, e.g. {{ path = "tasks/submit" }}')
        return None
    unknown = set(value) - _ROUTE_KEYS
    if unknown:
        errors.append(
            f"{what}: unknown keys {', '.join(sorted(unknown))} (use path, method, body, query)"
        )
    path = value.get("path")
    if not isinstance(path, str) or not path.strip("/"):
        errors.append(f"{what}.path is missing: the route, relative to the base URL")
    method = str(value.get("method", "POST" if body else "GET")).upper()
    if method not in ("GET", "POST", "PUT", "DELETE"):
        errors.append(f"{what}.method {method!r} is not GET, POST, PUT or DELETE")
    for key in ("body", "query"):
        if key in value and not isinstance(value[key], Mapping):
            errors.append(f"{what}.{key}: give a table")
        elif key in value:
            _check_template(value[key], f"{what}.{key}", errors)
    return {
        "path": str(path or "").strip("/"),
        "method": method,
        **{k: value[k] for k in ("body", "query") if isinstance(value.get(k), Mapping)},
    }


def _check_template(template: Any, what: str, errors: list[str]) -> None:
    if isinstance(template, Mapping):
        for key, inner in template.items():
            _check_template(inner, f"{what}.{key}", errors)
    elif isinstance(template, list):
        for i, inner in enumerate(template):
            _check_template(inner, f"{what}[{i}]", errors)
    elif isinstance(template, str) and template.startswith("{") and template.endswith("}"):
        match = _PLACEHOLDER.match(template)
        if not match or match.group(1) not in _NAMES:
            errors.append(
                f"{what}: {template!r} is not a placeholder; use one of "
                + ", ".join("{" + n + "}" for n in _NAMES)
            )


class DescribedDialect(Dialect):
    """A request family built from a description (see the module docstring)."""

    def __init__(self, name: str, spec: Mapping[str, Any]) -> None:
        errors: list[str] = []
        if not isinstance(spec, Mapping):
            raise ConfigError(f"dialect {name!r}: give a table of settings")
        unknown = set(spec) - _KEYS
        if unknown:
            errors.append(f"unknown settings {', '.join(sorted(unknown))}")
        self.name = name
        self.description = str(spec.get("description") or f"described relay {name}")
        self.create_route = _route(spec.get("create"), "create", errors, body=True)
        self.poll_route = _route(spec.get("poll"), "poll", errors, body=False)
        self.content_route = _route(spec.get("content"), "content", errors, body=False)
        if self.create_route is None:
            errors.append("create is missing: the route that starts a job")
        if self.poll_route is None:
            errors.append("poll is missing: the route that tells a job's status")
        self.envelope = spec.get("envelope")
        if self.envelope is not None and not isinstance(self.envelope, str):
            errors.append('envelope: a dotted path to the answer inside (e.g. "data")')
        self.id_paths = _paths(spec.get("id"), "id", errors) or ("id", "task_id")
        self.status_paths = _paths(spec.get("status"), "status", errors) or ("status",)
        self.progress_paths = _paths(spec.get("progress"), "progress", errors)
        self.progress_fraction = bool(spec.get("progress_fraction", False))
        self.link_paths = _paths(spec.get("link"), "link", errors)
        self.error_paths = _paths(spec.get("error"), "error", errors) or ("error",)
        words = spec.get("words") or {}
        self.words: dict[str, Status] = {}
        if not isinstance(words, Mapping):
            errors.append("words: a table from the relay's status words to sora_nb's")
        else:
            for word, meaning in words.items():
                if meaning not in _STATUSES:
                    errors.append(f"words.{word}: {meaning!r} is not one of {', '.join(_STATUSES)}")
                else:
                    self.words[str(word).strip().lower()] = meaning
        auth = spec.get("auth", "bearer")
        if auth not in ("bearer", "bare"):
            errors.append(f'auth: {auth!r} is not "bearer" or "bare"')
        self.auth_prefix = "Bearer " if auth == "bearer" else ""
        images = spec.get("images", ["url", "data_url"])
        if not isinstance(images, list) or not set(images) <= {"url", "data_url"}:
            errors.append('images: a list of "url" and/or "data_url"')
            images = []
        rules = spec.get("rules")
        if rules is not None and rules not in ("unified", "openai"):
            errors.append(f'rules: {rules!r} is not "unified" or "openai" (or leave it out)')
        self.rules = rules
        if errors:
            raise ConfigError(f"dialect {name!r}:\n" + "\n".join(f"- {e}" for e in errors))
        self.abilities = Abilities(
            poll=True,
            content=self.content_route is not None,
            images=tuple(images),
            options=True,
        )

    # -- requests --------------------------------------------------------------------------------

    def build_create(self, request: VideoRequest, images: Sequence[ImageRef] = ()) -> HttpRequest:
        refs = [i if isinstance(i, str) else i.data_url() for i in images]
        values = {
            "prompt": request.prompt,
            "model": request.model,
            "size": request.size,
            "orientation": request.orientation,
            "aspect_ratio": _ASPECT.get(request.orientation or ""),
            "duration": request.duration,
            "image": refs[0] if refs else None,
            "images": refs or None,
        }
        return self._request(self.create_route, "create", values, extra=request.extra)

    def build_poll(self, job_id: str) -> HttpRequest:
        return self._request(self.poll_route, "poll", {"id": job_id})

    def build_content(self, job_id: str, variant: str = "video") -> HttpRequest:
        if self.content_route is None or variant != "video":
            raise self._cannot("serve a video's content")
        return self._request(self.content_route, "content", {"id": job_id})

    def _request(
        self,
        route: dict[str, Any] | None,
        kind: str,
        values: Mapping[str, Any],
        extra: Mapping[str, Any] | None = None,
    ) -> HttpRequest:
        assert route is not None
        path = route["path"]
        for name in ("id", "model"):
            if "{" + name + "}" in path:
                path = path.replace("{" + name + "}", seg(str(values.get(name) or "")))
        body = _fill(route.get("body"), values) if "body" in route else None
        if extra:
            body = {**(body or {}), **extra}
        query = _fill(route.get("query"), values) if "query" in route else None
        return HttpRequest(route["method"], path, kind, params=query or None, json=body)

    # -- answers ---------------------------------------------------------------------------------

    def parse_job(
        self,
        body: Any,
        headers: Mapping[str, str] | None = None,
        *,
        prompt: str | None = None,
        model: str | None = None,
    ) -> Job:
        data = dig_path(body, self.envelope) if self.envelope else body
        if not isinstance(data, Mapping):
            raise ProtocolError(f"the {self.name} answer is not a JSON object")
        job_id = _first_at(data, self.id_paths)
        if job_id in (None, ""):
            raise ProtocolError(f"the {self.name} answer has no id at {', '.join(self.id_paths)}")
        word = _first_at(data, self.status_paths)
        status = self.words.get(str(word).strip().lower()) if word is not None else None
        status = status or normalize_status(word)
        progress = to_progress(
            _first_at(data, self.progress_paths), fraction=self.progress_fraction
        )
        url = first(*(link(dig_path(data, p)) for p in self.link_paths))
        if status == "completed":
            progress = 100.0
            url = url or find_video_link(data)
        error = None
        if status in ("failed", "cancelled"):
            error = error_text(_first_at(data, self.error_paths))
        return Job(
            id=str(job_id),
            status=status,
            dialect=self.name,
            progress=progress,
            model=model,
            prompt=prompt,
            video_url=url,
            seconds=as_float(data.get("seconds")),
            error=error,
            created_at=to_datetime(first(data.get("created_at"), data.get("createTime"))),
            raw=body if isinstance(body, Mapping) else {},
        )


def dig_path(data: Any, path: str | None) -> Any:
    """``data`` at a dotted path (``output.urls.0``); a step into text holding JSON reads it."""
    if not path:
        return data
    for step in path.split("."):
        if isinstance(data, str) and data[:1] in ("{", "["):
            try:
                data = json.loads(data)
            except (ValueError, RecursionError):
                return None
        if isinstance(data, Mapping):
            data = data.get(step)
        elif isinstance(data, list) and step.isdigit():
            index = int(step)
            data = data[index] if index < len(data) else None
        else:
            return None
    return data


def _first_at(data: Any, paths: Sequence[str]) -> Any:
    for path in paths:
        value = dig_path(data, path)
        if value not in (None, ""):
            return value
    return None


def _fill(template: Any, values: Mapping[str, Any]) -> Any:
    """``template`` with its placeholders replaced; keys without a value are left out."""
    if isinstance(template, Mapping):
        out = {}
        for key, inner in template.items():
            filled = _fill(inner, values)
            if filled is not None and filled != {}:
                out[key] = filled
        return out
    if isinstance(template, list):
        return [v for v in (_fill(inner, values) for inner in template) if v is not None]
    if isinstance(template, str):
        match = _PLACEHOLDER.match(template)
        if match is None:
            return template
        value = values.get(match.group(1))
        if value is None:
            return None
        cast = match.group(2)
        if cast == "int":
            return int(float(value))
        if cast == "float":
            return float(value)
        if cast == "str" or isinstance(value, float):
            return _number_text(value) if isinstance(value, float) else str(value)
        return value
    return template


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def described(name: str, spec: Mapping[str, Any]) -> DescribedDialect:
    """A dialect from a description (a dict shaped like the TOML table)."""
    return DescribedDialect(name, spec)


def load_file(path: str | Path) -> list[DescribedDialect]:
    """The dialects a TOML file describes under ``[dialects.NAME]`` tables."""
    try:
        import tomllib  # type: ignore[import-not-found]
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    file = Path(path)
    try:
        doc = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file} is not valid TOML: {exc}") from None
    tables = doc.get("dialects")
    if not isinstance(tables, Mapping) or not tables:
        raise ConfigError(f"{file} describes no [dialects.NAME] table")
    made, problems = [], []
    for name, spec in tables.items():
        try:
            made.append(described(name, spec))
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError(f"{file}:\n" + "\n".join(problems))
    return made
