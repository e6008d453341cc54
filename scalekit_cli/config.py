"""Resolving settings: flags > environment > `.env` in the current directory > stored profile.

`.env` never overrides the environment, and python-dotenv is not even imported when there is
no `.env`. Each value remembers where it came from, for messages and `sk config show`.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .errors import CliError, ExitCode

SANDBOX = "sandbox"
DEFAULT_GMAIL_URL = "https://gmail.googleapis.com"
DEFAULT_TIMEOUT = 30.0

# The names a setting may come from, most specific first.
ENV_URL_VARIABLES = ("SCALEKIT_ENV_URL", "SCALEKIT_ENVIRONMENT_URL")


@dataclass
class Flags:
    """Settings given on the command line (root options)."""

    sandbox: bool = False
    env_url: str | None = None
    client_id: str | None = None


@dataclass
class Settings:
    env_url: str = ""
    client_id: str = ""
    client_secret: str = ""
    gmail_url: str = DEFAULT_GMAIL_URL
    timeout: float = DEFAULT_TIMEOUT
    debug: bool = False
    sandbox: bool = False
    sources: dict[str, str] = field(default_factory=dict)


def _load_dotenv(directory: Path) -> dict[str, str]:
    path = directory / ".env"
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    try:
        return {k: v for k, v in dotenv_values(path).items() if v is not None}
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}", ExitCode.CONFIG) from None


class _Layers:
    """Looks a variable up in the environment, then `.env`, recording the source."""

    def __init__(self, environ: Mapping[str, str], dotenv: Mapping[str, str]) -> None:
        self.environ = environ
        self.dotenv = dotenv

    def get(self, *names: str) -> tuple[str, str] | None:
        for layer, label in ((self.environ, "environment"), (self.dotenv, ".env")):
            for name in names:
                value = layer.get(name, "").strip()
                if value:
                    return value, f"{label} ({name})"
        return None


def normalize_env_url(raw: str) -> str:
    """Add https:// to a bare host; refuse plain http anywhere but loopback."""
    url = raw.strip().rstrip("/")
    if "://" not in url:
        url = f"https://{url}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(f"the environment URL {raw!r} is not an http(s) URL", ExitCode.CONFIG)
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise CliError(
            f"refusing plain http:// for {parts.hostname}: the client secret would cross the "
            "network in clear; use https:// (http is accepted for loopback hosts only)",
            ExitCode.CONFIG,
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise CliError(
            f"the environment URL {raw!r} must be a bare origin such as https://acme.scalekit.dev",
            ExitCode.CONFIG,
        )
    return f"{parts.scheme}://{parts.netloc}"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve(
    flags: Flags, environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Settings:
    environ = os.environ if environ is None else environ
    layers = _Layers(environ, _load_dotenv(cwd or Path.cwd()))
    settings = Settings()

    found = layers.get("SK_GMAIL_API_URL")
    if found:
        settings.gmail_url = found[0].rstrip("/")
    found = layers.get("SK_HTTP_TIMEOUT")
    if found:
        try:
            settings.timeout = float(found[0])
        except ValueError:
            settings.timeout = -1
        if not 0 < settings.timeout <= 3600:
            raise CliError(
                f"SK_HTTP_TIMEOUT must be a number of seconds between 0 and 3600, not {found[0]!r}",
                ExitCode.CONFIG,
            )
    found = layers.get("SK_DEBUG")
    settings.debug = bool(found) and found[0].lower() not in ("0", "false", "no", "off")

    env_url: tuple[str, str] | None = (flags.env_url, "flag --env-url") if flags.env_url else None
    env_url = env_url or layers.get(*ENV_URL_VARIABLES)
    if flags.sandbox or (env_url and env_url[0].strip().lower() == SANDBOX):
        settings.sandbox = True
        settings.sources["env_url"] = "flag --sandbox" if flags.sandbox else env_url[1]  # type: ignore[index]
        return settings

    if env_url is None:
        raise CliError(
            "no Scalekit environment configured: set SCALEKIT_ENV_URL, SCALEKIT_CLIENT_ID and "
            "SCALEKIT_CLIENT_SECRET (or put them in .env), or try the local sandbox with --sandbox",
            ExitCode.CONFIG,
        )
    settings.env_url = normalize_env_url(env_url[0])
    settings.sources["env_url"] = env_url[1]

    client_id = (flags.client_id, "flag --client-id") if flags.client_id else None
    client_id = client_id or layers.get("SCALEKIT_CLIENT_ID")
    client_secret = layers.get("SCALEKIT_CLIENT_SECRET")
    missing = [
        name
        for name, value in (
            ("SCALEKIT_CLIENT_ID", client_id),
            ("SCALEKIT_CLIENT_SECRET", client_secret),
        )
        if value is None
    ]
    if missing:
        raise CliError(f"{' and '.join(missing)} not set (environment or .env)", ExitCode.CONFIG)
    assert client_id is not None and client_secret is not None
    settings.client_id, settings.sources["client_id"] = client_id
    settings.client_secret, settings.sources["client_secret"] = client_secret
    return settings
