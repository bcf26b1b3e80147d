"""Settings: the traits users set (``%config SoraMagics.poll_interval = 2``, ``%sora_config``,
``SORA_*`` variables), and the frozen snapshot of them each cell or click works from.

The traits live on :class:`SoraSettings`, a mixin of ``SoraMagics``, so ``%config SoraMagics.…``
and ``%sora_config`` see them; everything below the magics only ever sees a :class:`Settings`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

from traitlets import Bool, Float, HasTraits, Int, TraitError, Unicode, validate

from .. import _exceptions as E
from .._secret import Secret
from ..config import DEFAULT_MAX_JOBS, ENV_API_KEY, normalize_base_url, resolve_dialect
from .frontend import EMBED_LIMIT, MODES

__all__ = ["SHOWS", "Settings", "SoraSettings"]

SHOWS = MODES
_MODES = ("auto", "widget", "html", "text")


@dataclass(frozen=True)
class Settings:
    """Every setting, as it was when a cell or a click started. The key is a :class:`Secret`."""

    base_url: str | None
    api_key: Secret
    key_source: str
    dialect: str
    model: str
    chat_model: str
    image_model: str
    orientation: str | None
    size: str | None
    duration: float | None
    timeout: float
    poll_interval: float
    max_poll_interval: float
    out_dir: str
    show: str
    embed_limit: int
    progress: str
    update_rate: float
    verify_tls: bool

    def connection(self) -> tuple[Any, ...]:
        """What a client is made from: runs with equal connections share one client."""
        key = self.api_key.reveal() or ""
        fingerprint = hashlib.sha256(key.encode()).hexdigest() if key else ""
        return (
            self.base_url,
            fingerprint,
            self.dialect,
            self.model,
            self.poll_interval,
            max(self.poll_interval, self.max_poll_interval),
            self.verify_tls,
        )


class SoraSettings(HasTraits):
    """The configurable traits, their checks, and :meth:`settings` (a snapshot)."""

    _key: Secret | None = None  # from %sora_config --key-prompt, in memory only

    base_url = Unicode(
        None,
        allow_none=True,
        config=True,
        help="The gateway's base URL (ends in /v1). Default: $SORA_BASE_URL, "
        "else the built-in emulator.",
    )
    dialect = Unicode(
        "unified",
        config=True,
        help="Request family: unified (/video/create), openai (/videos), chat, or one "
        "registered with sora_nb.dialects.register().",
    )
    model = Unicode("sora-2", config=True, help="Default video model.")
    chat_model = Unicode("sora-2", config=True, help="Default model for %%sora_chat.")
    image_model = Unicode("dall-e-3", config=True, help="Default model for %%sora_image.")
    api_key_env = Unicode(
        ENV_API_KEY, config=True, help="Name of the environment variable holding the API key."
    )
    orientation = Unicode(None, allow_none=True, config=True, help="Default orientation.")
    size = Unicode(None, allow_none=True, config=True, help="Default size.")
    duration = Float(None, allow_none=True, config=True, help="Default duration, seconds.")
    timeout = Float(900.0, config=True, help="Longest wait for one video, seconds.")
    poll_interval = Float(1.0, config=True, help="Shortest time between two polls, seconds.")
    max_poll_interval = Float(30.0, config=True, help="Longest time between two polls, seconds.")
    out_dir = Unicode(
        "videos", config=True, help="Folder (relative to the notebook) where videos are saved."
    )
    show = Unicode(
        "auto",
        config=True,
        help="How videos appear: auto (by front end and folder, see docs/front-ends.md), "
        "file (a relative <video> the server serves), widget (the bytes over the widget comm), "
        "embed (base64 in the notebook), link (the gateway's link; nothing downloaded).",
    )
    embed_limit_mb = Float(
        EMBED_LIMIT / 2**20,
        config=True,
        help="Largest video show=auto inlines as base64 (MiB); larger ones play in a widget.",
    )
    progress = Unicode("auto", config=True, help="Live status: auto, widget, html or text.")
    update_rate = Float(4.0, config=True, help="Most status updates per second.")
    verify_tls = Bool(True, config=True, help="Verify TLS certificates (turn off by name only).")
    emulator_job_seconds = Float(
        3.0, config=True, help="Render time of one job on the built-in emulator."
    )
    emulator_seed = Int(0, config=True, help="Seed of the built-in emulator (deterministic ids).")
    max_jobs_per_cell = Int(
        DEFAULT_MAX_JOBS,
        config=True,
        help="Most paid jobs one cell may create (%%sora_batch, %%sora_video -n): more is "
        "refused before anything is sent; a cell's --max-jobs overrides it; 0: no cap.",
    )

    @validate("max_jobs_per_cell")
    def _check_max_jobs(self, proposal: Any) -> int:
        if proposal["value"] < 0:
            raise TraitError("max_jobs_per_cell must be 0 (no cap) or more")
        return proposal["value"]

    @validate("dialect")
    def _check_dialect(self, proposal: Any) -> str:
        try:
            return resolve_dialect(proposal["value"], env={})
        except E.ConfigError as exc:
            raise TraitError(str(exc)) from None

    @validate("base_url")
    def _check_base_url(self, proposal: Any) -> str | None:
        value = proposal["value"]
        if value is None:
            return None
        try:
            return normalize_base_url(value)
        except E.ConfigError as exc:
            raise TraitError(str(exc)) from None

    @validate("show")
    def _check_show(self, proposal: Any) -> str:
        if proposal["value"] not in SHOWS:
            raise TraitError(f"show must be one of {', '.join(SHOWS)}")
        return proposal["value"]

    @validate("progress")
    def _check_progress(self, proposal: Any) -> str:
        if proposal["value"] not in _MODES:
            raise TraitError(f"progress must be one of {', '.join(_MODES)}")
        return proposal["value"]

    @validate(
        "poll_interval",
        "max_poll_interval",
        "timeout",
        "update_rate",
        "emulator_job_seconds",
        "embed_limit_mb",
    )
    def _check_positive(self, proposal: Any) -> float:
        if not proposal["value"] > 0:
            raise TraitError(f"{proposal['trait'].name} must be positive")
        return proposal["value"]

    def api_key(self) -> Secret:
        if self._key is not None:
            return self._key
        return Secret(os.environ.get(self.api_key_env) or None)

    def settings(self) -> Settings:
        """The settings now, as one snapshot (each cell works from the one it started with)."""
        key = self.api_key()
        return Settings(
            base_url=self.base_url,
            api_key=key,
            key_source="typed at a prompt" if self._key is not None else f"${self.api_key_env}",
            dialect=self.dialect,
            model=self.model,
            chat_model=self.chat_model,
            image_model=self.image_model,
            orientation=self.orientation,
            size=self.size,
            duration=self.duration,
            timeout=self.timeout,
            poll_interval=self.poll_interval,
            max_poll_interval=self.max_poll_interval,
            out_dir=self.out_dir,
            show=self.show,
            embed_limit=int(self.embed_limit_mb * 2**20),
            progress=self.progress,
            update_rate=self.update_rate,
            verify_tls=self.verify_tls,
        )
