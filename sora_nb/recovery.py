"""Finding a job whose create was sent but never answered. No notebook code: ``%sora_jobs
--refresh`` and batches (``sora_nb.batch``) both use it.

The journal keeps such a job under a local id (``events.LOCAL_PREFIX``): the gateway may have
made (and billed) it. Where the gateway lists jobs, the one with the same prompt made since (and
not already in the journal) is it; the row then takes its real id, keeping its parameters (a
batch item's key among them), so it can be resumed instead of made again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import dialects
from .journal import Entry, Journal
from .models import Job

if TYPE_CHECKING:
    from .client import AsyncClient

__all__ = ["find_lost"]

# Clocks differ a little: a job listed as made up to this long before the row was written counts.
CLOCK_SLACK = 60.0


async def find_lost(client: AsyncClient, journal: Journal, entry: Entry) -> Job | None:
    """The job a lost create made, when the gateway lists it; the journal row takes its id.
    None when the family lists no jobs or none matches (the job may still exist)."""
    if entry.dialect not in dialects.names() or not dialects.get(entry.dialect).abilities.list:
        return None
    since = entry.created_at - CLOCK_SLACK
    listed = await client.list_videos(limit=50, order="desc")
    found = [
        job
        for job in listed
        if job.prompt == entry.prompt
        and (job.created_at is None or job.created_at.timestamp() >= since)
        and journal.get(job.id, client.base_url) is None
    ]
    if not found:
        return None
    journal.replace_id(client.base_url, entry.id, found[-1])
    return found[-1]
