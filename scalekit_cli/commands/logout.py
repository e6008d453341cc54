"""`sk logout [--profile NAME]` — forget a stored profile: its keyring secret, its entry in the
profiles file, and the machine token cached for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from ..cli.commands import SkCommand
from ..errors import CliError, ExitCode, shell_word
from ..runtime import Runtime
from ._common import DebugOption, JsonOption, VerboseOption, execute
from .login import profile_name


@dataclass
class LogoutOptions:
    profile: str | None = None
    json: bool = False


def run(options: LogoutOptions, runtime: Runtime) -> int:
    from ..profiles import (
        KEYRING_SERVICE,
        KeyringUnavailable,
        backend_name,
        delete_secret,
        keyring_backend,
        load_profiles,
        read_secret,
        save_profiles,
    )
    from ..scalekit.token_cache import TokenCache

    out = runtime.out
    name = profile_name(runtime, options.profile)
    profiles = load_profiles()
    profile = profiles.pop(name, None)
    if profile is None:
        known = ", ".join(sorted(profiles)) or "none"
        raise CliError(f"no stored profile {name!r} (stored: {known})", ExitCode.CONFIG)

    secret_removed = False
    keyring = ""
    try:
        backend = keyring_backend()
        keyring = backend_name(backend)
        secret_removed = delete_secret(name, backend)
        # Read it back: a backend may answer a delete without deleting (or say there was
        # nothing while it holds one), and "logged out" must not leave the secret behind.
        remains = read_secret(name) is not None
    except KeyringUnavailable as exc:
        # The profile is still forgotten; say where the secret may remain.
        out.warn(f"{exc.message}; its keyring entry (if any) was left in place")
        remains = False
    TokenCache(profile.env_url, profile.client_id).clear()
    if remains:
        # The profile stays, so that `sk logout` can be run again once the entry is gone.
        again = f"{runtime.sk_prefix()} logout" + (
            f" --profile {shell_word(name)}" if options.profile else ""
        )
        raise CliError(
            f"the keyring ({keyring}) still holds the client secret of profile {name} after "
            f"sk asked it to delete it; the profile is kept: remove the entry (service "
            f"{KEYRING_SERVICE!r}, user {name!r}) with the keyring's own tool, then run {again}",
            ExitCode.CONFIG,
        )
    save_profiles(profiles)
    if options.json:
        out.json({"profile": name, "secret_removed": secret_removed})
    removed = f"profile {name} ({profile.client_id} at {profile.env_url}) removed"
    if secret_removed or not keyring:
        out.success(f"Logged out: {removed}")
    else:
        out.success(f"Logged out: {removed}; the keyring ({keyring}) held no secret for it")
    return ExitCode.OK


def register(app: typer.Typer) -> None:
    @app.command(
        "logout",
        cls=SkCommand,
        epilog="""
            sk logout
            sk logout --profile staging --json
        """,
    )
    def logout_command(
        ctx: typer.Context,
        profile: Annotated[
            str | None,
            typer.Option("--profile", help="Profile to remove (default: default).", metavar="NAME"),
        ] = None,
        json_mode: JsonOption = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """Remove a stored profile and its client secret from the keyring."""
        execute(
            ctx,
            run,
            LogoutOptions(profile, json_mode),
            json_mode=json_mode,
            verbose=verbose,
            debug=debug,
        )
