"""`sk disconnect CONNECTOR --user ID [--yes]` — delete the connected account
(`POST /api/v1/connected_accounts:delete`), and with it the user's stored tokens.

It cannot be undone (the user has to authorize again), so it asks first on a terminal, and a
script must say `--yes`: without a terminal to ask on, it refuses before any request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from ..cli.commands import SkCommand
from ..errors import CliError, ExitCode
from ..runtime import Runtime
from ..scalekit.errors import NotFound
from ._common import (
    ConnectorArgument,
    DebugOption,
    JsonOption,
    UserOption,
    VerboseOption,
    confirm,
    execute,
    validate_connector,
    validate_identifier,
)


@dataclass
class DisconnectOptions:
    connector: str
    identifier: str
    yes: bool = False
    json: bool = False


def run(options: DisconnectOptions, runtime: Runtime) -> int:
    validate_connector(options.connector)
    validate_identifier(options.identifier)
    out = runtime.out
    if not options.yes and not out.stdin_tty:
        raise CliError(
            "refusing to disconnect without --yes: standard input is not a terminal to ask on",
            ExitCode.USAGE,
        )
    client = runtime.scalekit()
    what = f"the {options.connector} account of {options.identifier!r}"
    try:
        if not options.yes:
            account = client.get_account(options.connector, options.identifier)
            question = (
                f"Disconnect {what} ({account.status or 'status unknown'}"
                f"{', ' + account.id if account.id else ''})? Its tokens are deleted and the "
                "user must authorize again. [y/N] "
            )
            if not confirm(out, question):
                raise CliError(f"not disconnected: {what} is left as it was", ExitCode.FAILURE)
        client.delete_account(options.connector, options.identifier)
    except NotFound:
        raise CliError(
            f"{what} does not exist; nothing to disconnect", ExitCode.NOT_CONNECTED
        ) from None
    out.success(f"disconnected {what}")
    if options.json:
        out.json(
            {"connector": options.connector, "identifier": options.identifier, "deleted": True}
        )
    return ExitCode.OK


def register(app: typer.Typer) -> None:
    @app.command(
        "disconnect",
        cls=SkCommand,
        epilog="""
            sk disconnect gmail --user user_123
            sk disconnect gmail --user user_123 --yes --json
        """,
    )
    def disconnect_command(
        ctx: typer.Context,
        connector: ConnectorArgument,
        user: UserOption,
        yes: Annotated[
            bool, typer.Option("--yes", "-y", help="Do not ask (needed without a terminal).")
        ] = False,
        json_mode: JsonOption = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """Delete a connected account and its tokens (asks first unless --yes)."""
        options = DisconnectOptions(connector, user, yes, json_mode)
        execute(ctx, run, options, json_mode=json_mode, verbose=verbose, debug=debug)
