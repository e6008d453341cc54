"""`sk status [CONNECTOR] --user ID` — one account, or every account of the user.

Exit 0 when it is (they all are) ACTIVE, 3 otherwise or when none exists, so that
`sk status gmail --user u || sk connect gmail --user u` works.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

import typer

from ..cli.commands import SkCommand
from ..errors import ExitCode, connect_command
from ..runtime import Runtime
from ..scalekit.errors import NotFound
from ..tables import Column
from ._common import (
    DebugOption,
    JsonOption,
    UserOption,
    VerboseOption,
    connector_name,
    execute,
    validate_connector,
    validate_identifier,
)

# On a narrow terminal Type goes first, then Updated, then Token expires; the connector, the
# status and the whole id always show.
TABLE_HEADERS = (
    Column("Connector"),
    Column("Status"),
    Column("Type", drop=1),
    Column("Token expires", drop=3, time=True),
    Column("Updated", drop=2, time=True),
    Column("Id"),
)


@dataclass
class StatusOptions:
    connector: str | None
    identifier: str
    json: bool = False


def run(options: StatusOptions, runtime: Runtime) -> int:
    validate_identifier(options.identifier)
    if options.connector is not None:
        validate_connector(options.connector)
        return _one(options, runtime)
    return _all(options, runtime)


def _one(options: StatusOptions, runtime: Runtime) -> int:
    out = runtime.out
    assert options.connector is not None
    try:
        account = runtime.scalekit().get_account(options.connector, options.identifier)
    except NotFound:
        from .known_names import missing_account

        raise missing_account(runtime, options.connector, options.identifier) from None
    if options.json:
        out.json(account.summary())
    else:
        out.table(TABLE_HEADERS, [_row(account.summary())])
    if not account.is_active:
        out.error(
            f"{options.connector} is {account.status or 'not active'}; run: "
            + _connect_hint(runtime, options.connector, options.identifier)
        )
        return ExitCode.NOT_CONNECTED
    return ExitCode.OK


def _all(options: StatusOptions, runtime: Runtime) -> int:
    out = runtime.out
    accounts = runtime.scalekit().iter_accounts(identifier=options.identifier)
    inactive = 0
    count = 0
    if options.json:
        # Streamed: one page in memory at a time, one array element per account. The array
        # is closed even when a later page fails, so stdout stays valid JSON (the exit code
        # and the stderr line say the list is incomplete).

        def documents() -> Iterator[dict]:
            nonlocal inactive
            for account in accounts:
                if account.identifier and account.identifier != options.identifier:
                    continue
                inactive += not account.is_active
                yield account.summary()

        count = out.json_array(documents())
    else:

        def table_rows() -> Iterator[list[str]]:
            nonlocal count, inactive
            for account in accounts:
                if account.identifier and account.identifier != options.identifier:
                    continue
                count += 1
                inactive += not account.is_active
                yield _row(account.summary())

        # A pipe gets each row as its page arrives (one page in memory at a time); a
        # terminal's table sizes its columns from every row, so it needs them all first.
        rows = iter(list(table_rows())) if out.stdout_tty else table_rows()
        first = next(rows, None)
        if first is not None:
            out.table(TABLE_HEADERS, itertools.chain([first], rows))
    if count == 0:
        out.error(
            f"no connected accounts for {options.identifier!r}; connect one with: "
            + _connect_hint(runtime, "CONNECTOR", options.identifier)
        )
        return ExitCode.NOT_CONNECTED
    if inactive:
        out.error(f"{inactive} of {count} accounts are not ACTIVE")
        return ExitCode.NOT_CONNECTED
    return ExitCode.OK


def _row(summary: dict) -> list[str]:
    return [
        summary["connector"] or "",
        summary["status"] or "",
        summary["authorization_type"] or "",
        summary["token_expires_at"] or "",
        summary["updated_at"] or "",
        summary["id"] or "",
    ]


def _connect_hint(runtime: Runtime, connector: str, identifier: str) -> str:
    return connect_command(connector, identifier, **runtime.connect_hint_args())


def register(app: typer.Typer) -> None:
    @app.command(
        "status",
        cls=SkCommand,
        epilog="""
            sk status --user user_123
            sk status gmail --user user_123 --json
        """,
    )
    def status_command(
        ctx: typer.Context,
        user: UserOption,
        connector: Annotated[
            str | None,
            typer.Argument(
                help="One connection (e.g. gmail); all of the user's when omitted.",
                parser=connector_name,
            ),
        ] = None,
        json_mode: JsonOption = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """Show one connected account, or every account of the user; exit 3 unless all ACTIVE."""
        options = StatusOptions(connector, user, json_mode)
        execute(ctx, run, options, json_mode=json_mode, verbose=verbose, debug=debug)
