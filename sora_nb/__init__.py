"""sora_nb: AI video generation in Jupyter, through OpenAI-compatible gateways.

In a notebook: ``%load_ext sora_nb``, then ``%%sora_video`` / ``%%sora_chat`` cells.
From Python::

    import sora_nb
    client = sora_nb.Client(base_url="https://relay.example/v1", api_key="sk-…")
    job = client.generate_video("a paper boat on a pond", model="sora-2")
    client.download(job, "videos/")

``import sora_nb`` stays light: the client (httpx) loads on first use, and neither IPython,
ipywidgets nor the emulator is imported until asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._exceptions import (
    AuthenticationError,
    BadRequestError,
    CertificateError,
    ConfigError,
    ConnectError,
    GatewayError,
    GenerationFailed,
    NotFoundError,
    PollTimeout,
    ProtocolError,
    QuotaExceeded,
    RateLimitError,
    RulesNote,
    ServerError,
    SoraError,
    StreamInterrupted,
    SubmissionUnknown,
    TimeoutError,
    TransportError,
    TurnTimeout,
    ValidationError,
)
from .models import ChatEvent, ImageResult, Job, VideoRequest

if TYPE_CHECKING:
    from .client import AsyncClient, Client

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "CertificateError",
    "ChatEvent",
    "Client",
    "ConfigError",
    "ConnectError",
    "GatewayError",
    "GenerationFailed",
    "ImageResult",
    "Job",
    "NotFoundError",
    "PollTimeout",
    "ProtocolError",
    "QuotaExceeded",
    "RateLimitError",
    "RulesNote",
    "ServerError",
    "SoraError",
    "StreamInterrupted",
    "SubmissionUnknown",
    "TimeoutError",
    "TransportError",
    "TurnTimeout",
    "ValidationError",
    "VideoRequest",
    "__version__",
    "load_ipython_extension",
    "magics",
    "panel",
    "unload_ipython_extension",
]


def __getattr__(name: str) -> Any:
    if name in ("Client", "AsyncClient"):
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module 'sora_nb' has no attribute {name!r}")


def magics() -> Any:
    """The loaded extension's state (settings, ``.emulator``, ``.conversation``, ``.jobs``,
    ``.background`` tasks), or None before ``%load_ext sora_nb``."""
    from .notebook.extension import current

    return current()


def panel() -> Any:
    """The control panel, from Python (``%load_ext sora_nb`` first, or it is loaded for you)."""
    from IPython import get_ipython

    from .notebook.extension import load

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("sora_nb.panel() needs IPython or a Jupyter kernel")
    return load(shell).sora_panel("")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext sora_nb``: register the magics."""
    from .notebook.extension import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext sora_nb``: remove the magics and stop the built-in emulator if it runs."""
    from .notebook.extension import unload

    unload(ipython)
