"""The local AgentKit stand-in.

Importing this package is free: names are resolved on first use (PEP 562), and Starlette,
hypercorn and SQLite are imported only by the functions that need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .embedded import EmbeddedSandbox
    from .engine import SandboxEngine
    from .server import serve
    from .settings import Connection, SandboxSettings, default_connections, default_state_path
    from .store import reset_state

_EXPORTS = {
    "Connection": "settings",
    "SandboxSettings": "settings",
    "default_connections": "settings",
    "default_state_path": "settings",
    "create_app": "app",
    "serve": "server",
    "EmbeddedSandbox": "embedded",
    "SandboxEngine": "engine",
    "reset_state": "store",
}

__all__ = [
    "Connection",
    "EmbeddedSandbox",
    "SandboxEngine",
    "SandboxSettings",
    "create_app",
    "default_connections",
    "default_state_path",
    "reset_state",
    "serve",
]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
