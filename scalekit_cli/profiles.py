"""Stored profiles (`sk login`): the environment URL and client id of each profile in a TOML
file of the user config directory, the client secret in the OS keyring — never in a file that
sk writes itself.

`keyring` is imported only by the functions that read or write a secret, so commands that
get their credentials from the environment never load it.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import CliError, ExitCode
from .scalekit.paths import config_dir, private_dir

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

DEFAULT_PROFILE = "default"
PROFILES_FILE = "profiles.toml"
KEYRING_SERVICE = "scalekit-cli"
PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")

NO_KEYRING_OPTIONS = (
    "sk keeps a profile's client secret only in an OS keyring (macOS Keychain, Windows "
    "Credential Locker, Secret Service/KWallet on Linux). Without one, for example on a "
    "headless CI machine:",
    "  - skip sk login: set SCALEKIT_ENV_URL, SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET in "
    "the environment (in CI, from its secret store);",
    "  - or install a keyring backend and choose it explicitly, e.g. `pip install keyrings.alt` "
    "and PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring if a plaintext file is "
    "acceptable to you.",
)


@dataclass(frozen=True)
class Profile:
    name: str
    env_url: str
    client_id: str


class KeyringUnavailable(CliError):
    """No keyring backend sk may use; `options` are the lines explaining what to do instead."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"no usable keyring backend for the client secret: {reason}", ExitCode.CONFIG
        )
        self.options = NO_KEYRING_OPTIONS


def validate_profile_name(name: str) -> str:
    if not PROFILE_NAME.fullmatch(name):
        shown = name.encode("unicode_escape").decode("ascii")[:60]
        raise CliError(
            f"profile name {shown!r} is not valid: use up to 64 letters, digits, '.', '_' or '-'",
            ExitCode.USAGE,
        )
    return name


def profiles_path() -> Path:
    return config_dir() / PROFILES_FILE


# -- the TOML file ------------------------------------------------------------------------------


def load_profiles(path: Path | None = None) -> dict[str, Profile]:
    """Every stored profile by name; {} when there is no file."""
    import tomllib

    path = path or profiles_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}", ExitCode.CONFIG) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"{path} is not valid TOML: {exc}", ExitCode.CONFIG) from None
    table = document.get("profiles", {})
    profiles: dict[str, Profile] = {}
    if not isinstance(table, dict):
        return profiles
    for name, entry in table.items():
        if not isinstance(entry, dict):
            continue
        env_url, client_id = entry.get("env_url", ""), entry.get("client_id", "")
        if isinstance(env_url, str) and isinstance(client_id, str):
            profiles[name] = Profile(name, env_url, client_id)
    return profiles


def save_profiles(profiles: dict[str, Profile], path: Path | None = None) -> Path:
    """Replace the file atomically: mode 0600 in a 0700 directory."""
    path = path or profiles_path()
    private_dir(path.parent)
    descriptor, temporary = tempfile.mkstemp(prefix=".profiles-", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(render_profiles(profiles))
        if os.name == "posix":
            os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


def render_profiles(profiles: dict[str, Profile]) -> str:
    from .toml_output import toml_text

    table = {
        name: {"env_url": profiles[name].env_url, "client_id": profiles[name].client_id}
        for name in sorted(profiles)
    }
    document = {"profiles": table} if table else {}
    return toml_text(
        document, ("Written by `sk login`. Client secrets are kept in the OS keyring, not here.",)
    )


# -- the keyring --------------------------------------------------------------------------------


def choose_backend(
    configured: KeyringBackend | None, available: list[KeyringBackend]
) -> KeyringBackend | None:
    """The backend to keep secrets in: the one the user configured (PYTHON_KEYRING_BACKEND or
    keyringrc.cfg), else the best *recommended* one (priority >= 1). keyring on its own would
    fall back to keyrings.alt's plaintext file when it is installed; sk does not."""
    from keyring.backends import chainer, fail, null

    if configured is None:
        recommended = [
            backend
            for backend in available
            if backend.priority >= 1 and not isinstance(backend, chainer.ChainerBackend)
        ]
        configured = max(recommended, key=lambda backend: backend.priority, default=None)
    if configured is None or isinstance(configured, fail.Keyring | null.Keyring):
        return None
    return configured


def keyring_backend() -> KeyringBackend:
    """The backend to use, or KeyringUnavailable explaining the alternatives."""
    try:
        import keyring.backend
        import keyring.core
    except ImportError:
        raise KeyringUnavailable("the keyring package is not installed") from None
    try:
        configured = keyring.core.load_env() or keyring.core.load_config()
    except Exception as exc:  # a misspelt or non-viable backend name: any error of its import
        raise KeyringUnavailable(f"the configured backend cannot be loaded ({exc})") from None
    backend = choose_backend(configured, list(keyring.backend.get_all_keyring()))
    if backend is None:
        name = type(configured).__module__ + "." + type(configured).__name__ if configured else ""
        raise KeyringUnavailable(
            f"{name} stores nothing" if name else "none is installed or running"
        )
    return backend


def backend_name(backend: KeyringBackend) -> str:
    return f"{type(backend).__module__}.{type(backend).__name__}"


def _keyring_call(action: str, call: Callable[..., Any], *args: str) -> Any:
    from keyring.errors import KeyringError, NoKeyringError, PasswordDeleteError

    try:
        return call(*args)
    except PasswordDeleteError:
        raise
    except NoKeyringError as exc:
        raise KeyringUnavailable(str(exc).split(". ")[0]) from None
    except KeyringError as exc:
        raise CliError(
            f"the keyring refused to {action} the client secret: {exc}", ExitCode.CONFIG
        ) from None


def store_secret(profile: str, secret: str, backend: KeyringBackend | None = None) -> None:
    backend = backend or keyring_backend()
    _keyring_call("store", backend.set_password, KEYRING_SERVICE, profile, secret)


def read_secret(profile: str) -> str | None:
    backend = keyring_backend()
    value = _keyring_call("read", backend.get_password, KEYRING_SERVICE, profile)
    return value if isinstance(value, str) and value else None


def delete_secret(profile: str, backend: KeyringBackend | None = None) -> bool:
    """Remove the profile's secret; False when there was none."""
    from keyring.errors import PasswordDeleteError

    backend = backend or keyring_backend()
    try:
        _keyring_call("delete", backend.delete_password, KEYRING_SERVICE, profile)
    except PasswordDeleteError:
        return False
    return True
