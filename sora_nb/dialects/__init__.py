"""Pure protocol code: each request family ("dialect") as an object, and the registry of them.

>>> from sora_nb import dialects
>>> dialects.names()
('unified', 'openai', 'chat', 'newapi', 'videos-json')
>>> dialects.get("openai").abilities.delete
True

A family sora_nb does not ship is one object away: subclass :class:`Dialect` (build the
requests, parse a job) and ``dialects.register(MyDialect())``; the client, the magics and the
panel then offer it like the built-in ones. No I/O here.
"""

from __future__ import annotations

import os
from pathlib import Path

from .._exceptions import ConfigError
from ..paths import config_dir
from . import chat, images, newapi, openai, unified
from ._base import HttpRequest, ImageFile, ImageRef
from ._dialect import Abilities, Dialect
from .described import DescribedDialect, described, load_file

__all__ = [
    "Abilities",
    "DescribedDialect",
    "Dialect",
    "HttpRequest",
    "ImageFile",
    "ImageRef",
    "chat",
    "described",
    "get",
    "images",
    "load_file",
    "load_user",
    "names",
    "newapi",
    "openai",
    "register",
    "unified",
    "unregister",
]

_REGISTRY: dict[str, Dialect] = {}
_BUILTIN = (unified.UNIFIED, openai.OPENAI, chat.CHAT, newapi.NEWAPI, openai.VIDEOS_JSON)


def _key(name: str) -> str:
    return name.strip().lower()


def register(dialect: Dialect, *, replace: bool = False) -> Dialect:
    """Make ``dialect`` available by its name (``dialect="…"``, ``%sora_config dialect=…``).

    A name already taken is refused unless ``replace=True``; built-in families cannot be
    replaced (register yours under another name).
    """
    if not isinstance(dialect, Dialect):
        raise ConfigError(f"{dialect!r} is not a sora_nb.dialects.Dialect")
    name = dialect.name
    if not isinstance(name, str) or not name.strip() or any(c.isspace() for c in name.strip()):
        raise ConfigError(f"a dialect needs a name without spaces, not {name!r}")
    key = _key(name)
    if key in _REGISTRY and _REGISTRY[key] is not dialect:
        if any(b.name == key for b in _BUILTIN):
            raise ConfigError(f"{key!r} is a built-in dialect; register yours under another name")
        if not replace:
            raise ConfigError(f"a dialect named {key!r} is registered already (replace=True)")
    _REGISTRY[key] = dialect
    return dialect


def unregister(name: str) -> None:
    """Forget a registered family (built-in ones stay)."""
    key = _key(name)
    if not any(b.name == key for b in _BUILTIN):
        _REGISTRY.pop(key, None)


def get(name: str | Dialect) -> Dialect:
    """The family called ``name`` (a Dialect passes through); ConfigError names the known ones.

    A name not registered yet is looked for in the user's described relays (``load_user()``).
    """
    if isinstance(name, Dialect):
        return name
    if not isinstance(name, str):
        raise ConfigError(f"a dialect is named by text, not {name!r}")
    found = _REGISTRY.get(_key(name))
    if found is None and not _user_loaded:
        load_user()
        found = _REGISTRY.get(_key(name))
    if found is None:
        raise ConfigError(f"unknown dialect {name.strip()!r}: use one of {', '.join(names())}")
    return found


def names() -> tuple[str, ...]:
    """The registered families' names, built-in ones first."""
    return tuple(_REGISTRY)


_user_loaded = False


def load_user(folder: str | os.PathLike[str] | None = None) -> list[Dialect]:
    """Register the relays described in ``dialects.toml`` and ``dialects/*.toml`` in sora_nb's
    config folder (``$SORA_NB_CONFIG_DIR``, else the per-user config folder). Done once, at the
    first look-up of a name that is not registered; call again after editing the files."""
    global _user_loaded
    _user_loaded = True
    root = Path(folder) if folder is not None else config_dir()
    files = [root / "dialects.toml", *sorted((root / "dialects").glob("*.toml"))]
    made: list[Dialect] = []
    for file in files:
        if file.is_file():
            for dialect in load_file(file):
                made.append(register(dialect, replace=True))
    return made


for _dialect in _BUILTIN:
    register(_dialect)
