"""Where sora_nb keeps things per user: its data (the job journal) and its config (described
relays). ``$SORA_NB_DATA_DIR`` and ``$SORA_NB_CONFIG_DIR`` override them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV_DATA_DIR = "SORA_NB_DATA_DIR"
ENV_CONFIG_DIR = "SORA_NB_CONFIG_DIR"

__all__ = ["ENV_CONFIG_DIR", "ENV_DATA_DIR", "config_dir", "data_dir"]


def data_dir() -> Path:
    """The per-user data folder for sora_nb."""
    override = os.environ.get(ENV_DATA_DIR)
    if override:
        return Path(override).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        root = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        root = home / "Library" / "Application Support"
    else:
        root = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return root / "sora_nb"


def config_dir() -> Path:
    """The per-user config folder for sora_nb (``dialects.toml`` lives there)."""
    override = os.environ.get(ENV_CONFIG_DIR)
    if override:
        return Path(override).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        root = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        root = home / "Library" / "Application Support"
    else:
        root = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return root / "sora_nb"
