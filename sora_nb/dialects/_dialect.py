"""What a request family ("dialect") is: the requests it builds, the answers it parses, and what
it can do. Pure.

One object per family (``unified.UNIFIED``, ``openai.OPENAI``, ``chat.CHAT``), kept in the
registry of ``sora_nb.dialects``. Everything above this package asks the object what the family
can do (``dialect.abilities.delete``) instead of comparing names, so a new family is one object
and one ``register()`` call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._exceptions import ValidationError
from ..models import Job, VideoRequest
from ._base import HttpRequest, ImageRef

__all__ = ["Abilities", "Dialect"]

VARIANTS = ("video", "thumbnail", "spritesheet")


@dataclass(frozen=True)
class Abilities:
    """What a family's routes allow.

    ``images``: how reference images travel, in order of preference: ``"file"`` (a multipart
    upload), ``"url"`` (an http(s) link), ``"data_url"`` (a local file inlined as base64).
    ``options``: whether orientation, size and duration can be sent (the chat family takes only a
    prompt). ``streams``: the job lives in one streamed answer rather than behind a status route.
    """

    poll: bool = True
    list: bool = False
    delete: bool = False
    remix: bool = False
    content: bool = False  # a route serves the finished file (else the job's own link is used)
    streams: bool = False
    options: bool = True
    images: tuple[str, ...] = ("url", "data_url")
    max_images: int | None = None


class Dialect:
    """A request family. Subclasses build requests and parse answers; what a family cannot do
    raises :class:`ValidationError` naming the family, before anything is sent.

    ``rules`` names the model-rule family in ``sora_nb.capabilities`` whose sizes and durations
    apply (None: no rules, nothing is checked beyond the prompt).
    """

    name: str = ""
    abilities: Abilities = Abilities()
    rules: str | None = None
    description: str = ""
    # How the key goes in the Authorization header: "Bearer <key>", or the key alone.
    auth_prefix: str = "Bearer "

    def __repr__(self) -> str:
        return f"<dialect {self.name}>"

    def _cannot(self, what: str) -> ValidationError:
        return ValidationError(f"the {self.name} dialect cannot {what}")

    # -- requests --------------------------------------------------------------------------------

    def build_create(self, request: VideoRequest, images: Sequence[ImageRef] = ()) -> HttpRequest:
        raise self._cannot("create video jobs")

    def build_poll(self, job_id: str) -> HttpRequest:
        raise self._cannot("report a job's status (it has no status route; its stream is the job)")

    def build_content(self, job_id: str, variant: str = "video") -> HttpRequest:
        raise self._cannot("serve a video's content")

    def build_list(
        self, *, after: str | None = None, limit: int | None = None, order: str | None = None
    ) -> HttpRequest:
        raise self._cannot("list videos")

    def build_delete(self, job_id: str) -> HttpRequest:
        raise self._cannot("delete videos")

    def build_remix(self, job_id: str, prompt: str) -> HttpRequest:
        raise self._cannot("remix videos")

    # -- answers ---------------------------------------------------------------------------------

    def parse_job(
        self,
        body: Any,
        headers: Mapping[str, str] | None = None,
        *,
        prompt: str | None = None,
        model: str | None = None,
    ) -> Job:
        raise self._cannot("describe a job")

    def parse_list(self, body: Any) -> tuple[list[Job], str | None]:
        raise self._cannot("list videos")


def check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValidationError(f"variant {variant!r} is not one of {', '.join(VARIANTS)}")
