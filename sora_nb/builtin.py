"""The built-in emulator, as sora_nb itself starts it: for ``%load_ext`` with no gateway set,
``sora-nb batch --emulator`` and the demo.

The emulator knows nothing of the client. Its model rules are sora_nb's own, though, so whoever
starts it here tells the client to check requests to it strictly (``capabilities``), and forgets
that when it stops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .emulator import Emulator

__all__ = ["start", "stop"]


def start(**options: Any) -> Emulator:
    """``emulator.serve(**options)``, with requests to it checked strictly. ImportError without
    the ``[emulator]`` extra; OSError when its port cannot be had."""
    from .capabilities import register_gateway
    from .emulator import serve

    emulator = serve(**options)
    register_gateway(emulator.base_url)
    return emulator


def stop(emulator: Emulator) -> None:
    from .capabilities import forget_gateway

    emulator.stop()
    forget_gateway(emulator.base_url)
