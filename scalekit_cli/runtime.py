"""What a command runs with: its output, its settings, and lazily built clients.

Nothing here is built until a command asks for it, so `sk token` pays for one HTTP session and
nothing else, and only `--sandbox` runs ever load the sandbox.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import __version__
from .config import CredentialMode, Flags, Settings, gmail_destination_note, resolve
from .output import Output

if TYPE_CHECKING:
    from .sandbox import EmbeddedSandbox
    from .scalekit.client import ScalekitClient
    from .scalekit.gmail import GmailClient
    from .scalekit.http import HttpSession


@dataclass
class Runtime:
    out: Output
    flags: Flags
    environ: dict[str, str] | None = None
    # `sk login` and `sk config show` resolve settings without requiring credentials.
    credentials: CredentialMode = "required"
    _settings: Settings | None = field(default=None, repr=False)
    _session: HttpSession | None = field(default=None, repr=False)
    _client: ScalekitClient | None = field(default=None, repr=False)
    _sandbox: EmbeddedSandbox | None = field(default=None, repr=False)
    _gmail_announced: bool = field(default=False, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = resolve(
                self.flags, self.environ, credentials=self.credentials, warn=self.out.warn
            )
            # SK_DEBUG=1 reveals like --debug, and like it turns on no trace.
            self.out.debug = self.out.debug or self._settings.debug
            self.out.secrets.add(self._settings.client_secret, credential=True)
        return self._settings

    @property
    def sandbox(self) -> EmbeddedSandbox | None:
        """The embedded sandbox, opened on first use, when the settings point at it."""
        if self._sandbox is None and self.settings.sandbox:
            from .install_hint import require_sandbox_extra

            require_sandbox_extra("sk --sandbox")
            from .sandbox import EmbeddedSandbox

            self._sandbox = EmbeddedSandbox.open()
            self.out.secrets.add(self._sandbox.settings.client_secret, credential=True)
        return self._sandbox

    def session(self) -> HttpSession:
        if self._session is None:
            from .scalekit.http import HttpSession, RetryPolicy

            retry = RetryPolicy()
            backoff = os.environ.get("SK_RETRY_BACKOFF")
            if backoff:
                with contextlib.suppress(ValueError):
                    retry.backoff_base = max(0.0, float(backoff))
            sandbox = self.sandbox
            self._session = HttpSession(
                timeout=self.settings.timeout,
                transport=sandbox.transport() if sandbox is not None else None,
                retry=retry,
                trace=self.out.trace if self.out.verbose else None,
                user_agent=f"scalekit-cli/{__version__}",
            )
        return self._session

    def scalekit(self) -> ScalekitClient:
        if self._client is None:
            from .scalekit.client import ScalekitClient
            from .scalekit.token_cache import TokenCache

            settings = self.settings
            sandbox = self.sandbox
            if sandbox is not None:
                env_url, client_id = sandbox.base_url, sandbox.settings.client_id
                client_secret = sandbox.settings.client_secret
            else:
                env_url, client_id, client_secret = (
                    settings.env_url,
                    settings.client_id,
                    settings.client_secret,
                )
            self._client = ScalekitClient(
                env_url,
                client_id,
                client_secret,
                session=self.session(),
                secrets=self.out.secrets,
                token_cache=TokenCache(env_url, client_id, client_secret=client_secret),
            )
        return self._client

    def gmail(self, access_token: str) -> GmailClient:
        from .scalekit.gmail import GmailClient

        sandbox = self.sandbox
        base = sandbox.base_url if sandbox is not None else self.settings.gmail_url
        if sandbox is None and not self._gmail_announced:
            # A token goes only to its own API: when that is not Google's, say where it goes.
            self._gmail_announced = True
            note = gmail_destination_note(self.settings)
            if note:
                self.out.warn(note)
        return GmailClient(base, access_token, session=self.session(), secrets=self.out.secrets)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
        if self._sandbox is not None:
            self._sandbox.close()

    def sk_prefix(self) -> str:
        """`sk` with the root options this run was given, for commands we suggest: a printed
        `sk connect …` must reach the same environment with the same client."""
        import shlex

        flags = self.flags
        parts = ["sk"]
        if flags.sandbox or (self._settings is not None and self._settings.sandbox):
            parts.append("--sandbox")
        for option, value in (
            ("--env-url", flags.env_url),
            ("--client-id", flags.client_id),
            ("--profile", getattr(flags, "profile", None)),
        ):
            if value:
                parts += [option, shlex.quote(value)]
        return " ".join(parts)

    def connect_hint_args(self) -> dict[str, Any]:
        return {"prefix": self.sk_prefix()}
