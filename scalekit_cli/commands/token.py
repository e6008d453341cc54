"""`sk token CONNECTOR --user ID` — the account's fresh access token (or API key) on stdout.

Read from `/auth` immediately before printing, never from a cache: Scalekit refreshes tokens
on its side, so the freshest token is the one it answers with now.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config import Flags
from ..errors import CliError, ExitCode, not_connected, shell_word
from ..runtime import Runtime
from ..scalekit.errors import NotFound
from .runner import refuse_empty, run_command, validate_connector, validate_identifier

if TYPE_CHECKING:
    import typer

    from ..scalekit.models import ConnectedAccount


@dataclass
class TokenOptions:
    connector: str
    identifier: str
    field: str | None = None
    json: bool = False
    github_env: str | None = None  # --to-github-env NAME
    github_output: str | None = None  # --to-github-output NAME
    # `sk demo` shows the redacted form wherever its output goes: it is a picture, not a value.
    redacted_anywhere: bool = False


def read_active_account(runtime: Runtime, connector: str, identifier: str) -> ConnectedAccount:
    """The account with credentials; exit 3 with the `sk connect` command when unusable."""
    try:
        account = runtime.scalekit().get_account(connector, identifier, credentials=True)
    except NotFound:
        from .known_names import missing_account  # the failure path only

        raise missing_account(runtime, connector, identifier) from None
    if not account.is_active:
        raise not_connected(connector, identifier, account.status, **runtime.connect_hint_args())
    return account


def credential_fields(account: ConnectedAccount) -> dict[str, Any]:
    """The account's credentials by name: OAuth token fields, or the static_auth details."""
    details = account.authorization_details
    if details and details.oauth_token:
        token = details.oauth_token
        return {
            "access_token": token.access_token,
            "refresh_token": token.refresh_token,
            "scopes": token.scopes,
        }
    if details and details.static_auth:
        return dict(details.static_auth)
    return {}


def primary_secret(account: ConnectedAccount) -> tuple[str, str]:
    """(field name, value) of what `sk token` prints by default."""
    details = account.authorization_details
    if details and details.oauth_token and details.oauth_token.access_token:
        return "access_token", details.oauth_token.access_token
    static = (details.static_auth if details else None) or {}
    for preferred in ("api_key", "token", "access_token", "password"):
        if isinstance(static.get(preferred), str) and static[preferred]:
            return preferred, static[preferred]
    strings = [(k, v) for k, v in static.items() if isinstance(v, str) and v]
    if len(strings) == 1:
        return strings[0]
    raise CliError(
        f"the {account.connector} account holds no access token"
        + (f"; pick a field with --field ({', '.join(sorted(static))})" if static else ""),
        ExitCode.NOT_CONNECTED,
    )


def _check_github_targets(options: TokenOptions, runtime: Runtime) -> None:
    """Everything that can be wrong with --to-github-*, before any request is made."""
    from ..github_actions import target_file, validate_name

    if options.github_env:
        validate_name(options.github_env, "--to-github-env")
    if options.github_output:
        validate_name(options.github_output, "--to-github-output")
    if options.json:
        raise CliError("--to-github-env/--to-github-output take no --json", ExitCode.USAGE)
    if options.github_env:
        target_file("env")
    if options.github_output:
        target_file("output")


def _write_github_targets(options: TokenOptions, runtime: Runtime, value: str) -> None:
    """Hand the value to later workflow steps; stdout gets nothing. The value is written whole
    without --debug: it goes to the file the user named, never to a stream."""
    from ..github_actions import append_entry

    runtime.out.mask_in_ci(value)  # later steps may print it
    for kind, name in (("env", options.github_env), ("output", options.github_output)):
        if name:
            append_entry(kind, name, value)
            runtime.out.success(f"wrote {name} to $GITHUB_{kind.upper()}")


def _refuse_redacted_pipe(options: TokenOptions, runtime: Runtime) -> None:
    """In a pipe, without --debug, there is nothing to print: the redacted form is not a
    token, and a script capturing it would fail later, far from here. Exit 2 and say how to
    get the value (or how to hand it on without ever holding it). Checked where the value
    would be printed, so that an account to connect is still exit 3, a bad configuration 5."""
    out = runtime.out
    if out.stdout_tty or out.debug or options.redacted_anywhere:
        return
    account = f"{shell_word(options.connector)} --user {shell_word(options.identifier)}"
    raise CliError(
        "stdout is not a terminal and the token is shown only redacted without --debug; "
        f"to print it add --debug, or hand it on unprinted: {runtime.sk_prefix()} run "
        f"{account} -- COMMAND, or --to-github-env NAME",
        ExitCode.USAGE,
    )


def run(options: TokenOptions, runtime: Runtime) -> int:
    validate_connector(options.connector)
    validate_identifier(options.identifier)
    refuse_empty(
        ("--field", options.field),
        ("--to-github-env", options.github_env),
        ("--to-github-output", options.github_output),
    )
    to_github = options.github_env is not None or options.github_output is not None
    if to_github:
        _check_github_targets(options, runtime)
    out = runtime.out
    account = read_active_account(runtime, options.connector, options.identifier)
    fields = credential_fields(account)
    out.secrets.add_from({"static_auth": fields} if "access_token" not in fields else fields)

    if options.json:
        token = account.authorization_details.oauth_token if account.authorization_details else None
        name, value = primary_secret(account)  # no credentials at all: exit 3, as without --json
        out.json(
            {
                "connector": account.connector or options.connector,
                "identifier": account.identifier or options.identifier,
                "status": account.status,
                "token_type": "Bearer" if token else (account.authorization_type or name),
                "access_token": value or None,
                "refresh_token": (token.refresh_token or None) if token else None,
                "scopes": token.scopes if token else [],
                "expires_at": account.token_expires_at or None,
            }
        )
    else:
        if options.field is not None:
            if options.field not in fields or fields[options.field] in ("", None, []):
                known = ", ".join(sorted(k for k, v in fields.items() if v)) or "none"
                raise CliError(
                    f"the account has no field {options.field!r} (it has: {known})", ExitCode.USAGE
                )
            value = fields[options.field]
            text = value if isinstance(value, str) else json.dumps(value)
            secret = options.field not in ("scopes",)
        else:
            _, text = primary_secret(account)
            secret = True
        if to_github:
            _write_github_targets(options, runtime, text)
            return ExitCode.OK
        if secret:
            _refuse_redacted_pipe(options, runtime)
        out.result(out.reveal(text) if secret else text)
        if secret and not out.debug:
            out.info("(redacted: add --debug to print the token itself)")
    return ExitCode.OK


def run_from_cli(
    flags: Flags,
    *,
    connector: str,
    user: str,
    field: str | None = None,
    to_github_env: str | None = None,
    to_github_output: str | None = None,
    json_mode: bool = False,
    debug: bool = False,
    verbose: bool = False,
) -> int:
    """`sk token` from its parsed command line (the Typer parameters, by name)."""
    options = TokenOptions(connector, user, field, json_mode, to_github_env, to_github_output)
    return run_command(run, options, flags, json_mode=json_mode, verbose=verbose, debug=debug)


def register(app: typer.Typer) -> None:
    # The Typer signature lives in token_cli, so that this module imports without Typer.
    from .token_cli import register as register_signature

    register_signature(app)
