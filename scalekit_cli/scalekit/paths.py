"""Per-user directories. On Linux the XDG variables are read directly (platformdirs costs
~15 ms of start-up); elsewhere platformdirs knows the conventions."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "scalekit-cli"


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable, "")
    base = Path(value) if os.path.isabs(value) else Path.home() / fallback
    return base / APP_NAME


def _user_dir(override: str, xdg_variable: str, xdg_fallback: str, kind: str) -> Path:
    """`override` when set; else the XDG directory on Linux; else platformdirs' `kind`."""
    value = os.environ.get(override)
    if value:
        return Path(value)
    if sys.platform.startswith("linux"):
        return _xdg(xdg_variable, xdg_fallback)
    import platformdirs

    return Path(getattr(platformdirs, f"user_{kind}_dir")(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    return _user_dir("SK_CACHE_DIR", "XDG_CACHE_HOME", ".cache", "cache")


def data_dir() -> Path:
    return _user_dir("SK_DATA_DIR", "XDG_DATA_HOME", ".local/share", "data")


def config_dir() -> Path:
    return _user_dir("SK_CONFIG_DIR", "XDG_CONFIG_HOME", ".config", "config")


def private_dir(path: Path) -> Path:
    """Create a directory only its owner can enter (0700), tightening an existing one."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name == "posix" and (path.stat().st_mode & 0o777) != 0o700:
        path.chmod(0o700)
    return path
