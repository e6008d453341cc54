"""`sk login [--profile NAME] [--env-url URL] [--client-id ID] [--client-secret-stdin]` — prove a
set of client credentials and store them as a profile.

The secret is read with hidden input on a terminal, or from standard input; it never comes
from a flag (flags show up in `ps` and shell history). It is proven by fetching a machine
token, then kept in the OS keyring; the URL and client id go to the profiles file. A keyring
that cannot be used ends the command (exit 5) before anything is asked or stored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated

import typer

from ..cli.commands import SkCommand
from ..config import SANDBOX, normalize_env_url
from ..errors import CliError, ExitCode
from ..runtime import Runtime
from ..scalekit.errors import CredentialsRejected
from ._common import DebugOption, JsonOption, VerboseOption, execute, refuse_empty


@dataclass
class LoginOptions:
    profile: str | None = None
    env_url: str | None = None
    client_id: str | None = None
    secret_from_stdin: bool = False
    json: bool = False


def profile_name(runtime: Runtime, given: str | None) -> str:
    """--profile of the command, else of the root, else SK_PROFILE, else `default`."""
    from ..profiles import DEFAULT_PROFILE, validate_profile_name

    refuse_empty(("--profile", given))
    name = given or runtime.flags.profile or os.environ.get("SK_PROFILE", "").strip()
    return validate_profile_name(name or DEFAULT_PROFILE)


def _ask(runtime: Runtime, label: str, default: str, flag: str) -> str:
    """A visible prompt on stderr, answered on stdin; only on a terminal."""
    out = runtime.out
    if not out.stdin_tty:
        raise CliError(f"{flag} is required when standard input is not a terminal", ExitCode.USAGE)
    suffix = f" [{default}]" if default else ""
    out.stderr.write(f"{label}{suffix}: ")
    out.stderr.flush()
    answer = out.stdin.readline()
    if not answer:
        raise CliError(f"no {label.lower()} given", ExitCode.USAGE)
    return answer.strip() or default


def _read_secret(runtime: Runtime, from_stdin: bool) -> str:
    out = runtime.out
    if from_stdin:
        secret = out.stdin.read().strip()
        if not secret:
            raise CliError("--client-secret-stdin: standard input was empty", ExitCode.USAGE)
        return secret
    if not out.stdin_tty:
        raise CliError(
            "give the client secret on standard input with --client-secret-stdin "
            "(it is never taken from a flag)",
            ExitCode.USAGE,
        )
    import getpass

    # getpass turns echo off on the controlling terminal: the secret is never shown.
    secret = getpass.getpass("Client secret (input hidden): ", stream=out.stderr).strip()
    if not secret:
        raise CliError("no client secret given", ExitCode.USAGE)
    return secret


def run(options: LoginOptions, runtime: Runtime) -> int:
    from ..profiles import (
        KeyringUnavailable,
        Profile,
        backend_name,
        keyring_backend,
        load_profiles,
        save_profiles,
        store_secret,
    )
    from ..scalekit.client import ScalekitClient
    from ..scalekit.token_cache import TokenCache

    out = runtime.out
    runtime.credentials = "skip"  # login brings its own credentials
    if runtime.flags.sandbox:
        raise CliError("the sandbox needs no login; use --sandbox on any command", ExitCode.USAGE)
    name = profile_name(runtime, options.profile)
    refuse_empty(("--env-url", options.env_url), ("--client-id", options.client_id))
    try:
        backend = keyring_backend()
    except KeyringUnavailable as exc:
        for line in exc.options:
            out.info(line)
        raise CliError(f"{exc.message}; nothing was stored", exc.exit_code) from None

    existing = load_profiles().get(name)
    raw_url = options.env_url or runtime.flags.env_url
    if not raw_url:
        raw_url = _ask(
            runtime, "Environment URL", existing.env_url if existing else "", "--env-url"
        )
    if raw_url.strip().lower() == SANDBOX:
        raise CliError("the sandbox needs no login; use --sandbox on any command", ExitCode.USAGE)
    env_url = normalize_env_url(raw_url)
    client_id = options.client_id or runtime.flags.client_id
    if not client_id:
        default = existing.client_id if existing and existing.env_url == env_url else ""
        client_id = _ask(runtime, "Client ID", default, "--client-id")
    secret = _read_secret(runtime, options.secret_from_stdin)
    out.secrets.add(secret, credential=True)

    # Prove the credentials with a fresh machine token, never one from the cache (login asks
    # the server itself whether the secret is accepted); it is then cached.
    cache = TokenCache(env_url, client_id, client_secret=secret)
    cache.clear()
    client = ScalekitClient(
        env_url,
        client_id,
        secret,
        session=runtime.session(),
        secrets=out.secrets,
        token_cache=cache,
    )
    try:
        client.machine_token()
    except CredentialsRejected as exc:
        raise CliError(f"{exc}; nothing was stored", ExitCode.CONFIG) from None

    store_secret(name, secret, backend)
    profiles = load_profiles()
    profiles[name] = Profile(name, env_url, client_id)
    path = save_profiles(profiles)
    if options.json:
        out.json(
            {
                "profile": name,
                "env_url": env_url,
                "client_id": client_id,
                "keyring": backend_name(backend),
                "profiles_file": str(path),
            }
        )
    out.success(f"Logged in to {env_url} as {client_id} (profile {name})")
    if backend.priority < 1:
        # Only reachable by the user's explicit choice (PYTHON_KEYRING_BACKEND, keyringrc.cfg).
        out.warn(f"the secret is kept by {backend_name(backend)}, which keyring does not recommend")
    out.detail(f"client secret in {backend_name(backend)}; profile in {path}")
    if name != "default":
        out.info(f"Use it with: sk --profile {name} … (or SK_PROFILE={name})")
    return ExitCode.OK


def register(app: typer.Typer) -> None:
    @app.command(
        "login",
        cls=SkCommand,
        epilog="""
            sk login
            sk login --profile staging --env-url https://acme.scalekit.dev --client-id skc_1
            sk login --profile ci --client-secret-stdin --client-id skc_1
        """,
    )
    def login_command(
        ctx: typer.Context,
        profile: Annotated[
            str | None,
            typer.Option("--profile", help="Profile to store (default: default).", metavar="NAME"),
        ] = None,
        env_url: Annotated[
            str | None,
            typer.Option("--env-url", help="Scalekit environment URL.", metavar="URL"),
        ] = None,
        client_id: Annotated[
            str | None, typer.Option("--client-id", help="Client id.", metavar="ID")
        ] = None,
        client_secret_stdin: Annotated[
            bool,
            typer.Option(
                "--client-secret-stdin",
                help="Read the client secret from standard input (else a hidden prompt).",
            ),
        ] = False,
        json_mode: JsonOption = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """Prove client credentials and store them as a profile (secret in the OS keyring)."""
        options = LoginOptions(profile, env_url, client_id, client_secret_stdin, json_mode)
        execute(ctx, run, options, json_mode=json_mode, verbose=verbose, debug=debug)
