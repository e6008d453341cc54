"""The machine-token cache: one small JSON file per (environment URL, client id).

The file is mode 0600 in a 0700 directory and holds the token and its expiry, never the client
secret: a token is used only with the secret it was fetched with, checked against an HMAC of
the secret under a random salt of the file's own (a changed or wrong secret is noticed at once,
by the token exchange, rather than after the cached token lapses). Writes go to a temporary
file renamed into place, so a reader sees the old file or the new one, never half of one; a
lock file serialises fetches, so twenty cold `sk token` processes make one token request
between them rather than twenty (a process waits for it a bounded time, then fetches its own).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .paths import cache_dir, private_dir

# A token is used until this many seconds before it lapses.
EXPIRY_MARGIN_SECONDS = 60
# How long a fetch waits for another process's fetch before making its own.
FETCH_LOCK_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class CachedToken:
    access_token: str
    expires_at: float

    def usable(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) < self.expires_at - EXPIRY_MARGIN_SECONDS


def secret_mac(salt: str, client_secret: str) -> str:
    """What the cache keeps of the secret: an HMAC under a random salt, so that the file
    tells whether a secret is the one its token was fetched with and nothing else. Client
    secrets are long random strings, so no slow KDF is needed against guessing."""
    return hmac.new(bytes.fromhex(salt), client_secret.encode(), hashlib.sha256).hexdigest()


class TokenCache:
    """`client_secret` None (`sk logout`, which only clears) loads nothing."""

    def __init__(
        self,
        env_url: str,
        client_id: str,
        directory: Path | None = None,
        *,
        client_secret: str | None = None,
    ) -> None:
        self.env_url = env_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.directory = directory if directory is not None else cache_dir() / "tokens"
        key = hashlib.sha256(f"{env_url}\0{client_id}".encode()).hexdigest()[:32]
        self.path = self.directory / f"{key}.json"
        self._lock_path = self.directory / f"{key}.lock"

    def load(self) -> CachedToken | None:
        """The cached token, or None when absent, unreadable, foreign or lapsing."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict):
            return None
        # The file name is a hash; the content says whom it is for, and must agree.
        if data.get("env_url") != self.env_url or data.get("client_id") != self.client_id:
            return None
        salt, mac = data.get("secret_salt"), data.get("secret_mac")
        if self._client_secret is None or not isinstance(salt, str) or not isinstance(mac, str):
            return None
        try:
            expected = secret_mac(salt, self._client_secret)
        except ValueError:  # a salt that is not hex
            return None
        if not hmac.compare_digest(expected, mac):
            return None
        token, expires_at = data.get("access_token"), data.get("expires_at")
        if not isinstance(token, str) or not token or not isinstance(expires_at, int | float):
            return None
        cached = CachedToken(token, float(expires_at))
        return cached if cached.usable() else None

    def store(self, token: str, expires_in: float) -> None:
        if self._client_secret is None:
            return
        salt = secrets.token_hex(16)
        try:
            private_dir(self.directory)
            payload = json.dumps(
                {
                    "env_url": self.env_url,
                    "client_id": self.client_id,
                    "secret_salt": salt,
                    "secret_mac": secret_mac(salt, self._client_secret),
                    "access_token": token,
                    "expires_at": time.time() + expires_in,
                }
            )
            # mkstemp creates the file 0600 before anything is written to it.
            fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tok-", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(payload)
                os.replace(temporary, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError:
            # A read-only or full disk costs one token request per run, not a failure.
            return

    def clear(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()

    @contextlib.contextmanager
    def fetch_lock(self) -> Iterator[None]:
        """Held while a token is fetched; a no-op where file locks are unavailable."""
        try:
            import fcntl
        except ImportError:  # Windows: concurrent fetches are merely redundant.
            yield
            return
        try:
            private_dir(self.directory)
            handle = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            yield
            return
        locked = False
        try:
            # Bounded: a holder that never lets go (a suspended `sk`, a hung mount) would
            # otherwise block this process, and every parallel MCP call queued behind its
            # client's lock, for ever. Past the wait a fetch of our own is merely redundant.
            deadline = time.monotonic() + FETCH_LOCK_WAIT_SECONDS
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        break
                    time.sleep(0.02)
                except OSError:  # no locks on this file system (ENOLCK): fetch unlocked
                    break
                else:
                    locked = True
                    break
            yield
        finally:
            if locked:
                fcntl.flock(handle, fcntl.LOCK_UN)
            os.close(handle)
