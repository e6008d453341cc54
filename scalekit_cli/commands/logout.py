"""`sk logout [--profile NAME]` — forget a stored profile: its keyring secret, its entry in the
profiles file, and the machine token cached for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from ..cli.commands import SkCommand
from ..errors import CliError, ExitCode
from ..runtime import Runtime
from ._common import DebugOption, JsonOption, VerboseOption, execute
from .login import profile_name


@dataclass
class LogoutOptions:
    profile: str | None = None
    json: bool = False


def run(options: LogoutOptions, runtime: Runtime) -> int:
    from ..profiles import KeyringUnavailable, delete_secret, load_profiles, save_profiles
    from ..scalekit.token_cache import TokenCache

    out = runtime.out
    name = profile_name(runtime, options.profile)
    profiles = load_profiles()
    profile = profiles.pop(name, None)
    if profile is None:
        known = ", ".join(sorted(profiles)) or "none"
        raise CliError(f"no stored profile {name!r} (stored: {known})", ExitCode.CONFIG)

    secret_removed = False
    try:
        secret_removed = delete_secret(name)
    except KeyringUnavailable as exc:
        # The profile is still forgotten; say where the secret may remain.
        out.warn(f"{exc.message}; its keyring entry (if any) was left in place")
    save_profiles(profiles)
    TokenCache(profile.env_url, profile.client_id).clear()
    if options.json:
        out.json({"profile": name, "secret_removed": secret_removed})
    out.success(f"Logged out: profile {name} ({profile.client_id} at {profile.env_url}) removed")
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
