"""What a video run reports as it goes: typed events. Pure data.

One lifecycle (``sora_nb.runs``) emits them; everything else only listens: the journal records
them, a cell's status line and the panel's progress bar draw them, a script's ``on_update``
callback receives their jobs.

    Submitting a create is about to be sent: until its answer comes the job may exist (and be
               billed) with no id known, so it is journaled under a local id first
    Submitted  the gateway answered the create: the job has an id (journal it before any wait)
    Progressed the job changed (status, progress, link) while it ran
    Text       more of a streamed chat answer (video models through chat write as they work)
    Finished   the job completed on the gateway
    Saved      its file is on disk
    Failed     it ended without a video, or waiting for it stopped (the error says which)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ._exceptions import SoraError
from .models import ChatEvent, Job

__all__ = [
    "LOCAL_PREFIX",
    "Failed",
    "Finished",
    "Progressed",
    "RunEvent",
    "Saved",
    "Submitted",
    "Submitting",
    "Text",
]

# Ids sora_nb gives a job whose create was sent but not yet answered (never a gateway's id).
LOCAL_PREFIX = "local:"


@dataclass(frozen=True)
class Submitting:
    job: Job  # status "submitting", id LOCAL_PREFIX + a random part


@dataclass(frozen=True)
class Submitted:
    job: Job


@dataclass(frozen=True)
class Progressed:
    job: Job


@dataclass(frozen=True)
class Text:
    event: ChatEvent
    job: Job | None = None  # what the text says about the video so far, for chat-made videos


@dataclass(frozen=True)
class Finished:
    job: Job


@dataclass(frozen=True)
class Saved:
    job: Job
    path: Path


@dataclass(frozen=True)
class Failed:
    job: Job | None  # None when no job id was ever seen
    error: SoraError


RunEvent = Submitting | Submitted | Progressed | Text | Finished | Saved | Failed


def is_local(job_id: str | None) -> bool:
    """Whether ``job_id`` is sora_nb's stand-in for a job whose create was never answered."""
    return bool(job_id) and str(job_id).startswith(LOCAL_PREFIX)
