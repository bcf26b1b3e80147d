"""The key's balance in ``%sora_config``, where the relay serves it (``sora_nb.billing``).

Never a reason for ``%sora_config`` to fail: a relay without the billing routes, a key that may
not read them, a slow or broken answer each become a few words in the balance row.
"""

from __future__ import annotations

from typing import Any

from .. import _exceptions as E
from . import runner
from .settings import Settings

__all__ = ["NOT_SERVED", "balance_text"]

NOT_SERVED = "not served by this gateway"
# The longest %sora_config waits for the balance, seconds (both requests together).
WAIT = 5.0


def balance_text(session: Any, settings: Settings, *, timeout: float = WAIT) -> str | None:
    """``$12.34 left of $25.00 (used $12.66)``, or why there is none; None with no gateway."""
    if not settings.base_url:
        return None
    try:
        client = session.client(settings)
        balance = runner.run(client.balance(timeout=timeout))
    except E.ProtocolError:  # a 200 that is no balance (a web page, another API's object)
        return NOT_SERVED
    except E.AuthenticationError as exc:
        return f"not shown to this key ({exc.status_code})"
    except E.GatewayError as exc:
        if exc.status_code in (404, 405, 501):
            return NOT_SERVED
        return "could not be read: " + " ".join(str(exc).split())
    except E.SoraError as exc:
        return "could not be read: " + " ".join(str(exc).split())
    except Exception as exc:  # a bug in reading it must not cost the user their settings view
        return f"could not be read: {type(exc).__name__}"
    return balance.line()
