"""`sk connections list [--user ID]` — what this environment can connect
(`GET /api/v1/connections/app`): each connection's name (what `sk connect` takes), provider
and authorization type; with `--user`, whether that user has an account there and its
status (read from the user's connected accounts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..cli.commands import SkCommand, SkSubGroup
from ..errors import CliError, ExitCode
from ..runtime import Runtime
from ..scalekit.errors import ApiError, is_unsupported
from ..tables import Column
from ._common import DebugOption, JsonOption, VerboseOption, execute, user_id

if TYPE_CHECKING:
    from ..scalekit.models import AppConnection, ConnectedAccount

HEADERS = (Column("Name"), Column("Provider"), Column("Auth"))
USER_HEADERS = (*HEADERS, Column("Account"))
# What the Account column says when the user has none on that connection.
NO_ACCOUNT = "-"


@dataclass
class ListOptions:
    user: str | None = None
    provider: str | None = None
    json: bool = False


def connection_document(
    connection: AppConnection, account: ConnectedAccount | None, with_user: bool
) -> dict[str, Any]:
    """The stable JSON shape of one connection (`sk connections list --json` is an array)."""
    document: dict[str, Any] = {
        "name": connection.name,
        "provider": connection.provider or None,
        "authorization_type": connection.authorization_type or None,
        "id": connection.id or None,
    }
    if with_user:
        document["account"] = (
            None if account is None else {"id": account.id or None, "status": account.status}
        )
    return document


def run_list(options: ListOptions, runtime: Runtime) -> int:
    if options.provider is not None and not options.provider.strip():
        raise CliError("--provider must not be empty", ExitCode.USAGE)
    client = runtime.scalekit()
    try:
        connections = list(client.iter_app_connections(provider=options.provider))
    except ApiError as error:
        if not is_unsupported(error):
            raise
        raise CliError(
            "this environment does not list its connections (it predates "
            f"connections/app); see its dashboard, or: {runtime.sk_prefix()} tools list",
            ExitCode.FAILURE,
        ) from None
    accounts: dict[str, ConnectedAccount] = {}
    if options.user is not None:
        for account in client.iter_accounts(identifier=options.user):
            accounts.setdefault(account.connector, account)
    with_user = options.user is not None
    out = runtime.out
    if options.json:
        out.json([connection_document(c, accounts.get(c.name), with_user) for c in connections])
        return ExitCode.OK
    if not connections:
        out.info("no connection of that provider" if options.provider else "no connections yet")
        return ExitCode.OK
    rows = []
    for connection in connections:
        row = [connection.name, connection.provider, connection.authorization_type]
        if with_user:
            account = accounts.get(connection.name)
            row.append(NO_ACCOUNT if account is None else account.status)
        rows.append(row)
    out.table(USER_HEADERS if with_user else HEADERS, rows)
    return ExitCode.OK


def register(app: typer.Typer) -> None:
    connections_app = typer.Typer(
        name="connections",
        epilog="""
            sk connections list
            sk connections list --user user_123
        """,
        cls=SkSubGroup,
        help="List the connections this environment can connect.",
        no_args_is_help=True,
    )

    @connections_app.command(
        "list",
        cls=SkCommand,
        epilog="""
            sk connections list
            sk connections list --user user_123
            sk connections list --provider GOOGLE --json
        """,
    )
    def list_command(
        ctx: typer.Context,
        user: Annotated[
            str | None,
            typer.Option(
                "--user",
                "-u",
                help="Also show this user's account on each connection and its status.",
                metavar="ID",
                parser=user_id,
            ),
        ] = None,
        provider: Annotated[
            str | None,
            typer.Option(
                "--provider", help="Only this provider's connections, e.g. GOOGLE.", metavar="NAME"
            ),
        ] = None,
        json_mode: JsonOption = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """List connections (name, provider, auth type); --user adds that user's accounts."""
        options = ListOptions(user, provider, json_mode)
        execute(ctx, run_list, options, json_mode=json_mode, verbose=verbose, debug=debug)

    app.add_typer(connections_app)
