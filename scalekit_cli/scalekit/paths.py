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


def cache_dir() -> Path:
    override = os.environ.get("SK_CACHE_DIR")
    if override:
        return Path(override)
    if sys.platform.startswith("linux"):
        return _xdg("XDG_CACHE_HOME", ".cache")
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    override = os.environ.get("SK_DATA_DIR")
    if override:
        return Path(override)
    if sys.platform.startswith("linux"):
        return _xdg("XDG_DATA_HOME", ".local/share")
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    override = os.environ.get("SK_CONFIG_DIR")
    if override:
        return Path(override)
    if sys.platform.startswith("linux"):
        return _xdg("XDG_CONFIG_HOME", ".config")
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def private_dir(path: Path) -> Path:
    """Create a directory only its owner can enter (0700), tightening an existing one."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name == "posix" and (path.stat().st_mode & 0o777) != 0o700:
        path.chmod(0o700)
    return path
