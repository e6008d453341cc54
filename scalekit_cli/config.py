"""Resolving settings: flags > environment > `.env` in the current directory > stored profile.

`.env` supplies the credentials and nothing else: a `.env` comes with whatever checkout the
command runs in (a pull request's CI job, a cloned repository), so what could turn on revealing,
send a token elsewhere or move sk's files is read from the process environment only. It never
overrides the environment, and python-dotenv is not even imported when there is no `.env`.
Each value remembers where it came from, for messages and `sk config show`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from .errors import CliError, ExitCode

if TYPE_CHECKING:
    from .profiles import Profile

SANDBOX = "sandbox"
DEFAULT_GMAIL_URL = "https://gmail.googleapis.com"
DEFAULT_TIMEOUT = 30.0

# The names a setting may come from, most specific first.
ENV_URL_VARIABLES = ("SCALEKIT_ENV_URL", "SCALEKIT_ENVIRONMENT_URL")
# What a `.env` may set: the environment's URL and its credentials, as the seeds do.
DOTENV_VARIABLES = (*ENV_URL_VARIABLES, "SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET")
# Variables sk (or its wire) reads: a `.env` setting one is warned about, and ignored. Any
# other key of a `.env` belongs to other tools and is simply not read.
TLS_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE")
# Either case, as curl reads them: a checkout must not route sk's traffic through its proxy.
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
IGNORED_DOTENV_PREFIXES = ("SK_", "SCALEKIT_")


def ignored_in_dotenv(name: str) -> bool:
    """Whether `name`, set in a `.env`, is one of sk's switches that only the process
    environment may set."""
    return name not in DOTENV_VARIABLES and (
        name.startswith(IGNORED_DOTENV_PREFIXES)
        or name in TLS_VARIABLES
        or name.lower() in PROXY_VARIABLES
    )


@dataclass
class Flags:
    """Settings given on the command line (root options)."""

    sandbox: bool = False
    env_url: str | None = None
    client_id: str | None = None
    profile: str | None = None


@dataclass
class Settings:
    env_url: str = ""
    client_id: str = ""
    client_secret: str = ""
    gmail_url: str = DEFAULT_GMAIL_URL
    timeout: float = DEFAULT_TIMEOUT
    debug: bool = False
    sandbox: bool = False
    profile: str = ""
    sources: dict[str, str] = field(default_factory=dict)
    # Why a credential is missing (filled only when resolving with credentials="optional").
    problems: list[str] = field(default_factory=list)
    # Keys of the `.env` that were not read because only the environment may set them.
    ignored_dotenv: list[str] = field(default_factory=list)


# "required": missing credentials end the command (exit 5); "optional": they are left empty and
# explained in `problems` (`sk config show`); "skip": only the general settings are resolved
# (`sk login`, which brings its own credentials).
CredentialMode = Literal["required", "optional", "skip"]


def _load_dotenv(directory: Path) -> dict[str, str]:
    path = directory / ".env"
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    try:
        # Literally: a `.env` is data, and `${VAR}` expanded from the process environment
        # would let a checkout's `.env` send any of the developer's variables to its own server.
        values = dotenv_values(path, interpolate=False)
        return {k: v for k, v in values.items() if v is not None}
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}", ExitCode.CONFIG) from None


class _Layers:
    """Looks a credential up in the environment, then `.env`, and any other setting in the
    environment only, recording the source."""

    def __init__(self, environ: Mapping[str, str], dotenv: Mapping[str, str]) -> None:
        self.environ = environ
        self.dotenv = {name: value for name, value in dotenv.items() if name in DOTENV_VARIABLES}
        self.ignored = sorted(name for name in dotenv if ignored_in_dotenv(name))

    def get(self, *names: str) -> tuple[str, str] | None:
        for layer, label in ((self.environ, "environment"), (self.dotenv, ".env")):
            for name in names:
                value = layer.get(name, "").strip()
                if value:
                    return value, f"{label} ({name})"
        return None


def normalize_url(raw: str, *, setting: str, carries: str, origin_only: bool = True) -> str:
    """Add a scheme to a bare host — http:// for a loopback one (a local server such as the
    sandbox speaks plain HTTP), https:// for any other; refuse plain http anywhere but loopback
    (what the URL is sent with — `carries` — must not cross a network in clear), credentials
    in the URL, and malformed hosts or ports. Any refusal is exit 5, saying why."""
    url = raw.strip().rstrip("/")
    if "://" not in url:
        try:
            bare_host = urlsplit(f"//{url}").hostname or ""
        except ValueError:
            bare_host = ""
        url = f"{'http' if is_loopback(bare_host) else 'https'}://{url}"
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # .port raises on a bad or out-of-range port
    except ValueError as exc:
        raise CliError(f"{setting} {raw!r} is not a valid URL ({exc})", ExitCode.CONFIG) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        raise CliError(f"{setting} {raw!r} is not an http(s) URL", ExitCode.CONFIG)
    if parts.username is not None or parts.password is not None:
        raise CliError(
            f"{setting} must not carry a user name or password; "
            "credentials go in SCALEKIT_CLIENT_ID / SCALEKIT_CLIENT_SECRET",
            ExitCode.CONFIG,
        )
    if scheme == "http" and not is_loopback(host):
        raise CliError(
            f"refusing plain http:// for {host}: {carries} would cross the network in clear; "
            "use https:// (http is accepted for loopback hosts only)",
            ExitCode.CONFIG,
        )
    if parts.query or parts.fragment or (origin_only and parts.path not in ("", "/")):
        shape = "a bare origin such as https://acme.scalekit.dev" if origin_only else "a URL"
        raise CliError(f"{setting} {raw!r} must be {shape}", ExitCode.CONFIG)
    path = "" if origin_only else parts.path.rstrip("/")
    return f"{scheme}://{parts.netloc}{path}"


def gmail_destination_note(settings: Settings) -> str:
    """A warning when Gmail calls — and the user's access token — go elsewhere than Google."""
    if settings.sandbox or settings.gmail_url == DEFAULT_GMAIL_URL:
        return ""
    source = settings.sources.get("gmail_url", "")
    return (
        f"Gmail access tokens go to {settings.gmail_url} ({source}), not to Google's "
        f"{DEFAULT_GMAIL_URL}"
    )


def normalize_env_url(raw: str) -> str:
    return normalize_url(raw, setting="the environment URL", carries="the client secret")


def is_loopback(host: str) -> bool:
    from .scalekit.models import is_loopback_host

    return is_loopback_host(host)


class _ProfileLayer:
    """The stored profile, the lowest layer: its file is read only when a setting is missing
    above it (or the profile was named explicitly), and the keyring only for its secret."""

    def __init__(self, name: str, source: str, explicit: bool) -> None:
        self.name = name
        self.source = source
        self.explicit = explicit
        self._loaded = False
        self._profile: Profile | None = None

    @property
    def profile(self) -> Profile | None:
        if not self._loaded:
            from .profiles import load_profiles

            self._profile = load_profiles().get(self.name)
            self._loaded = True
        return self._profile

    def label(self) -> str:
        return f"profile {self.name}"

    def get(self, name: str) -> tuple[str, str] | None:
        profile = self.profile
        value = getattr(profile, name, "") if profile is not None else ""
        return (value, self.label()) if value else None

    def secret(self, env_url: str, client_id: str) -> tuple[str, str] | None:
        """The profile's client secret, only for the environment and client it was proven
        against: a secret is never sent with another client id or to another environment."""
        profile = self.profile
        if profile is None or (profile.env_url, profile.client_id) != (env_url, client_id):
            return None
        from .profiles import read_secret

        secret = read_secret(self.name)
        if secret is None:
            raise CliError(
                f"the client secret of profile {self.name!r} is not in the keyring; "
                f"run: sk login --profile {self.name}",
                ExitCode.CONFIG,
            )
        return secret, f"{self.label()} (keyring)"


def _profile_layer(flags: Flags, layers: _Layers) -> _ProfileLayer:
    from .profiles import DEFAULT_PROFILE, validate_profile_name

    if flags.profile:
        return _ProfileLayer(validate_profile_name(flags.profile), "flag --profile", True)
    found = layers.get("SK_PROFILE")
    if found:
        return _ProfileLayer(validate_profile_name(found[0]), found[1], True)
    return _ProfileLayer(DEFAULT_PROFILE, "default", False)


def resolve(
    flags: Flags,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    *,
    credentials: CredentialMode = "required",
    warn: Callable[[str], None] | None = None,
) -> Settings:
    """The settings; `warn` gets one line per `.env` key ignored, before anything can fail."""
    environ = os.environ if environ is None else environ
    layers = _Layers(environ, _load_dotenv(cwd or Path.cwd()))
    settings = Settings(ignored_dotenv=layers.ignored)
    for name in layers.ignored if warn is not None else ():
        warn(
            f".env sets {name}, which is ignored: only the environment may set it "
            f"(a .env supplies {', '.join(DOTENV_VARIABLES)} only)"
        )

    found = layers.get("SK_GMAIL_API_URL")
    settings.sources["gmail_url"] = found[1] if found else "default"
    if found:
        settings.gmail_url = normalize_url(
            found[0],
            setting="SK_GMAIL_API_URL",
            carries="the Gmail access token",
            origin_only=False,
        )
    found = layers.get("SK_HTTP_TIMEOUT")
    settings.sources["timeout"] = found[1] if found else "default"
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
    if credentials == "skip":
        return settings

    env_url: tuple[str, str] | None = (flags.env_url, "flag --env-url") if flags.env_url else None
    env_url = env_url or layers.get(*ENV_URL_VARIABLES)
    if flags.sandbox or (env_url and env_url[0].strip().lower() == SANDBOX):
        settings.sandbox = True
        settings.sources["env_url"] = "flag --sandbox" if flags.sandbox else env_url[1]  # type: ignore[index]
        return settings

    profile = _profile_layer(flags, layers)
    settings.profile, settings.sources["profile"] = profile.name, profile.source
    if profile.explicit and profile.profile is None:
        settings.problems.append(
            f"no stored profile {profile.name!r} ({profile.source}); "
            f"run: sk login --profile {profile.name}"
        )
    else:
        _resolve_credentials(settings, flags, layers, profile)
    if settings.problems and credentials == "required":
        raise CliError(settings.problems[0], ExitCode.CONFIG)
    return settings


# The layers from the most trusted down; a secret goes only to a URL of its own layer or of a
# more trusted one.
_TRUST = ("flag", "environment", ".env", "profile")


def _trust(source: str) -> int:
    return next(rank for rank, layer in enumerate(_TRUST) if source.startswith(layer))


def _secret_destination_conflict(url_source: str, secret_source: str) -> str:
    """Settings are taken as a whole: a client secret from the environment (a CI secret) is
    never posted to a URL that a less trusted layer (a checkout's `.env`) chose."""
    if _trust(url_source) <= _trust(secret_source):
        return ""
    return (
        f"the client secret comes from the {secret_source} but the environment URL from the "
        f"{url_source}, a less trusted layer: the secret is never sent to it; set the URL "
        "where the secret is set"
    )


def _resolve_credentials(
    settings: Settings, flags: Flags, layers: _Layers, profile: _ProfileLayer
) -> None:
    """Each credential from the first layer that has it; what is missing goes to `problems`."""
    env_url: tuple[str, str] | None = (flags.env_url, "flag --env-url") if flags.env_url else None
    env_url = env_url or layers.get(*ENV_URL_VARIABLES) or profile.get("env_url")
    if env_url is None:
        settings.problems.append(
            "no Scalekit environment configured: set SCALEKIT_ENV_URL, SCALEKIT_CLIENT_ID and "
            "SCALEKIT_CLIENT_SECRET (or put them in .env), run sk login, or try the local "
            "sandbox with --sandbox"
        )
        return
    settings.env_url = normalize_env_url(env_url[0])
    settings.sources["env_url"] = env_url[1]

    client_id = (flags.client_id, "flag --client-id") if flags.client_id else None
    client_id = client_id or layers.get("SCALEKIT_CLIENT_ID") or profile.get("client_id")
    if client_id is not None:
        settings.client_id, settings.sources["client_id"] = client_id
    client_secret = layers.get("SCALEKIT_CLIENT_SECRET")
    if client_secret is None and client_id is not None:
        try:
            client_secret = profile.secret(settings.env_url, client_id[0])
        except CliError as exc:
            settings.problems.append(exc.message)
            return
    if client_secret is not None:
        conflict = _secret_destination_conflict(env_url[1], client_secret[1])
        if conflict:
            settings.problems.append(conflict)
            return
        settings.client_secret, settings.sources["client_secret"] = client_secret
    missing = [
        name
        for name, value in (
            ("SCALEKIT_CLIENT_ID", client_id),
            ("SCALEKIT_CLIENT_SECRET", client_secret),
        )
        if value is None
    ]
    if not missing:
        return
    hint = ""
    stored = profile.profile
    if stored is not None and client_id is not None and client_secret is None:
        # The profile exists, but for another client or environment than the one resolved.
        hint = (
            f"; profile {profile.name!r} holds the secret of {stored.client_id} at "
            f"{stored.env_url} and it is never sent with other settings"
        )
    settings.problems.append(
        f"{' and '.join(missing)} not set (environment, .env or a profile from sk login)" + hint
    )
