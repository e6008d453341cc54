"""A registry of secret values, so every output path can scrub them.

Redaction by key catches fields we know; redaction by value catches the rest (exception
messages from inside httpx, tracebacks, echoed bodies). The client registers each secret the
moment it learns it.
"""

from __future__ import annotations

import re
import threading

# Fields whose string values are secret wherever they appear in a JSON document.
SECRET_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "api_key",
        "apikey",
        "password",
        "secret",
        "token",
        "authorization",
        "secret_access_key",
        "session_token",
    }
)
# Objects whose every string value is secret (API keys, usernames and passwords).
SECRET_CONTAINERS = frozenset({"static_auth"})

_SHORTEST_SECRET = 6


def mask(value: str) -> str:
    """A redacted form showing at most the first 4 characters (fewer for short values)."""
    shown = min(4, len(value) // 4)
    return f"{value[:shown]}…[redacted]"


class SecretRegistry:
    """Known secret values of this process; `scrub` replaces them in any text."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: object) -> None:
        if not isinstance(value, str) or len(value) < _SHORTEST_SECRET:
            return
        with self._lock:
            if value not in self._values:
                self._values.add(value)
                self._pattern = None

    def add_from(self, document: object) -> None:
        """Register every secret-keyed string in a JSON-like document."""
        for value in secret_values(document):
            self.add(value)

    def values(self) -> list[str]:
        """A snapshot of the known secrets."""
        with self._lock:
            return list(self._values)

    def __contains__(self, value: str) -> bool:
        return value in self._values

    def scrub(self, text: str) -> str:
        with self._lock:
            if not self._values:
                return text
            if self._pattern is None:
                # Longest first, so a secret containing another is replaced whole.
                ordered = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
            pattern = self._pattern
        return pattern.sub(lambda m: mask(m.group(0)), text)


# Deeper than this, documents are not walked: a hostile or pathological answer must not
# exhaust the stack (values already known are still scrubbed from text by `scrub`).
MAX_DEPTH = 64
DEEP = "…[nested too deep]"


def secret_values(document: object, *, inside_secret: bool = False, _depth: int = 0) -> list[str]:
    found: list[str] = []
    if _depth > MAX_DEPTH:
        return found
    if isinstance(document, dict):
        for key, value in document.items():
            lowered = str(key).lower()
            secret = inside_secret or lowered in SECRET_CONTAINERS
            if isinstance(value, str) and (secret or lowered in SECRET_KEYS):
                found.append(value)
            else:
                found.extend(secret_values(value, inside_secret=secret, _depth=_depth + 1))
    elif isinstance(document, list):
        for item in document:
            found.extend(secret_values(item, inside_secret=inside_secret, _depth=_depth + 1))
    return found


def redact_document(document: object, *, inside_secret: bool = False, _depth: int = 0) -> object:
    """A copy of a JSON-like document with every secret-keyed value masked (non-string values
    inside a secret container too)."""
    if _depth > MAX_DEPTH and isinstance(document, dict | list):
        return DEEP
    if isinstance(document, dict):
        copy: dict[str, object] = {}
        for key, value in document.items():
            lowered = str(key).lower()
            secret = inside_secret or lowered in SECRET_CONTAINERS
            if isinstance(value, str) and value and (secret or lowered in SECRET_KEYS):
                copy[key] = mask(value)
            elif secret and isinstance(value, int | float) and not isinstance(value, bool):
                copy[key] = mask(str(value))
            else:
                copy[key] = redact_document(value, inside_secret=secret, _depth=_depth + 1)
        return copy
    if isinstance(document, list):
        return [
            redact_document(item, inside_secret=inside_secret, _depth=_depth + 1)
            for item in document
        ]
    return document


# The registry of this process: every client and output of a command shares it, so a secret
# learnt anywhere is scrubbed everywhere, including in a last-resort error message.
GLOBAL_SECRETS = SecretRegistry()
