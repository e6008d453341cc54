"""The request log keeps credentials as fingerprints (`sandbox/faults.py::loggable_header`):
what a test compares a logged header with, and where it finds the raw machine tokens."""

from __future__ import annotations

from scalekit_cli.sandbox.faults import redacted_marker
from tests.conftest import LiveSandbox


def logged_bearer(token: str) -> str:
    """The `authorization` header of the log for a request that sent `Bearer token`."""
    return f"Bearer {redacted_marker(token)}"


def issued_machine_tokens(live: LiveSandbox) -> list[str]:
    """Every machine token the sandbox issued, read from its store (the test process runs it)."""
    with live.engine.store.read() as session:
        return session.machine_tokens()
