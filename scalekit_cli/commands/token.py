"""`sk token CONNECTOR --user ID` — the account's fresh access token (or API key) on stdout.

Read from `/auth` immediately before printing, never from a cache: Scalekit refreshes tokens
on its side, so the freshest token is the one it answers with now.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from ..errors import CliError, ExitCode, not_connected
from ..runtime import Runtime
from ..scalekit.errors import NotFound
from ..scalekit.models import ConnectedAccount
from ._common import (
    ConnectorArgument,
    DebugOption,
    JsonOption,
    UserOption,
    VerboseOption,
    execute,
    validate_connector,
    validate_identifier,
)


@dataclass
class TokenOptions:
    connector: str
    identifier: str
    field: str | None = None
    json: bool = False


def read_active_account(runtime: Runtime, connector: str, identifier: str) -> ConnectedAccount:
    """The account with credentials; exit 3 with the `sk connect` command when unusable."""
    try:
        account = runtime.scalekit().get_account(connector, identifier, credentials=True)
    except NotFound:
        raise not_connected(connector, identifier, None, **runtime.connect_hint_args()) from None
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


def run(options: TokenOptions, runtime: Runtime) -> int:
    validate_connector(options.connector)
    validate_identifier(options.identifier)
    out = runtime.out
    account = read_active_account(runtime, options.connector, options.identifier)
    fields = credential_fields(account)
    out.secrets.add_from({"static_auth": fields} if "access_token" not in fields else fields)

    if options.json:
        token = account.authorization_details.oauth_token if account.authorization_details else None
        name, value = primary_secret(account) if fields else ("", "")
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
        if options.field:
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
        out.result(out.reveal(text) if secret else text)
        if secret and not out.debug:
            out.info("(redacted: add --debug to print the token itself)")
    return ExitCode.OK


def register(app: typer.Typer) -> None:
    @app.command("token")
    def token_command(
        ctx: typer.Context,
        connector: ConnectorArgument,
        user: UserOption,
        field: Annotated[
            str | None,
            typer.Option(
                "--field",
                help="Print this credential field instead (refresh_token, scopes, or a key of "
                "an API-key account's details).",
                metavar="NAME",
            ),
        ] = None,
        json_mode: JsonOption = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """Print the account's fresh access token (redacted unless --debug)."""
        options = TokenOptions(connector, user, field, json_mode)
        execute(ctx, run, options, json_mode=json_mode, verbose=verbose, debug=debug)
