"""One sandbox shared by the tests of a module, emptied before each test.

Starting and stopping a uvicorn server costs a few hundred milliseconds; most contract tests
only need an empty sandbox, which `POST /_sandbox/reset` (docs/architecture.md) provides.
Tests that move the clock, revoke machine tokens or change settings use `sandbox_factory`.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import (
    CANARY_CLIENT_ID,
    CANARY_CLIENT_SECRET,
    LiveSandbox,
    start_live_sandbox,
)
from tests.contract.client import plain_client


def start_shared(**overrides: Any) -> LiveSandbox:
    from scalekit_cli.sandbox import SandboxSettings

    overrides.setdefault("client_id", CANARY_CLIENT_ID)
    overrides.setdefault("client_secret", CANARY_CLIENT_SECRET)
    return start_live_sandbox(SandboxSettings(**overrides))


def reset(live: LiveSandbox) -> LiveSandbox:
    with plain_client(base_url=live.url) as admin:
        answer = admin.post("/_sandbox/reset")
    assert answer.status_code == 200, f"POST /_sandbox/reset -> {answer.status_code}"
    return live
