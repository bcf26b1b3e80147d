"""Where sora_nb keeps things per user: its data (the job journal, the probe cache) and its
config (described relays). ``$SORA_NB_DATA_DIR`` and ``$SORA_NB_CONFIG_DIR`` override them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV_DATA_DIR = "SORA_NB_DATA_DIR"
ENV_CONFIG_DIR = "SORA_NB_CONFIG_DIR"

__all__ = ["ENV_CONFIG_DIR", "ENV_DATA_DIR", "config_dir", "data_dir"]


def _per_user(override: str, windows: tuple[str, str], xdg: tuple[str, str]) -> Path:
    """``$override``, else the platform's per-user folder for this kind of file, + sora_nb."""
    given = os.environ.get(override)
    if given:
        return Path(given).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        root = Path(os.environ.get(windows[0]) or home / "AppData" / windows[1])
    elif sys.platform == "darwin":
        root = home / "Library" / "Application Support"
    else:
        root = Path(os.environ.get(xdg[0]) or home / xdg[1])
    return root / "sora_nb"


def data_dir() -> Path:
    """The per-user data folder for sora_nb."""
    return _per_user(ENV_DATA_DIR, ("LOCALAPPDATA", "Local"), ("XDG_DATA_HOME", ".local/share"))


def config_dir() -> Path:
    """The per-user config folder for sora_nb (``dialects.toml`` lives there)."""
    return _per_user(ENV_CONFIG_DIR, ("APPDATA", "Roaming"), ("XDG_CONFIG_HOME", ".config"))
