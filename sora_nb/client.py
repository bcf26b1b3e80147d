"""The gateway client: :class:`Client` and its awaitable twin :class:`AsyncClient`.

``AsyncClient`` is written once (``async_client.py``); ``Client`` is generated from it
(``sync_client.py``, by ``scripts/unasync.py``); what both use is in ``transport.py``.

>>> client = Client(base_url="https://relay.example/v1", api_key="sk-…")   # doctest: +SKIP
>>> job = client.generate_video("a paper boat on a pond", model="sora-2")  # doctest: +SKIP
>>> client.download(job, "videos/")                                        # doctest: +SKIP
"""

from __future__ import annotations

from .async_client import AsyncClient
from .sync_client import Client
from .transport import MAX_ANSWER_BYTES, load_image, safe_filename

__all__ = ["MAX_ANSWER_BYTES", "AsyncClient", "Client", "load_image", "safe_filename"]
