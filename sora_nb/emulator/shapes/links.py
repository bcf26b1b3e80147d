"""Where the CDN origin serves a job's files (`files.py` routes the same layout)."""

from __future__ import annotations

__all__ = ["CDN_ROUTE", "media_url"]

# Relays link files on another origin, in dated folders: the 6ai.chat docs'
# `https://filesystem.site/cdn/20250612/<30 letters>.png`, and the `.mp4` links their video chat
# streams.
CDN_ROUTE = "/cdn/{date}/{name}"


def media_url(cdn_url: str, date: str, token: str, ext: str) -> str:
    """The link to one file: `<cdn origin>/cdn/<YYYYMMDD>/<token>.<ext>`."""
    return cdn_url + CDN_ROUTE.format(date=date, name=f"{token}.{ext}")
