"""`sk accounts list [--connector NAME] [--user ID] [--all]` — connected accounts of the
environment, across users.

Without `--all` only the first page (up to 99: the service's rule is `page_size < 100`) is
read, and stderr says when more exist; with `--all` every page is read, one page in memory
at a time, and rows are written as pages arrive (a pipe's tab-separated lines and `--json`'s
array both stream).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from ..cli.commands import SkCommand, SkSubGroup
from ..errors import ExitCode
from ..output import Output
from ..runtime import Runtime
from ..tables import Column
from ._common import (
    DebugOption,
    JsonOption,
    VerboseOption,
    execute,
    validate_connector,
    validate_identifier,
)

if TYPE_CHECKING:
    from ..scalekit.models import ConnectedAccount

# On a narrow terminal the user is cut at a word, then Type and Updated are left out; the
# status and the whole id (for --account-id) always show.
TABLE_HEADERS = (
    Column("Connector"),
    Column("User", shrink=12),
    Column("Status"),
    Column("Type", drop=1),
    Column("Updated", drop=2, time=True),
    Column("Id"),
)
HEADER_LINE = "\t".join(column.name for column in TABLE_HEADERS)


@dataclass
class AccountsListOptions:
    connector: str | None = None
    identifier: str | None = None
    all_pages: bool = False
    json: bool = False


def run(options: AccountsListOptions, runtime: Runtime) -> int:
    if options.connector is not None:
        validate_connector(options.connector)
    if options.identifier is not None:
        validate_identifier(options.identifier)
    out = runtime.out
    client = runtime.scalekit()
    more: list[str] = []  # the first page's note that more pages exist, when not --all

    def accounts() -> Iterator[ConnectedAccount]:
        if options.all_pages:
            found: Iterable[ConnectedAccount] = client.iter_accounts(
                connector=options.connector, identifier=options.identifier
            )
        else:
            page = client.list_accounts_page(
                connector=options.connector, identifier=options.identifier
            )
            found = page.accounts
            if page.next_page_token:
                total = f" of {page.total_size}" if page.total_size else ""
                more.append(
                    f"showing the first {len(page.accounts)}{total} accounts; "
                    "pass --all to list every one"
                )
        for account in found:
            # The identifier filter is exact here, whatever the server's matching is.
            if options.identifier is None or account.identifier in ("", options.identifier):
                yield account

    if options.json:
        count = out.json_array(account.summary() for account in accounts())
    elif out.stdout_tty:
        # A terminal's table sizes its columns from every row, so it is drawn at the end.
        rows = [_row(account) for account in accounts()]
        if rows:
            out.table(TABLE_HEADERS, rows)
        count = len(rows)
    else:
        count = _stream_lines(out, (_row(account) for account in accounts()))
    for note in more:
        out.info(note)
    if count == 0:
        out.info("no connected accounts match")
    return ExitCode.OK


def _row(account: ConnectedAccount) -> list[str]:
    return [
        account.connector,
        account.identifier,
        account.status,
        account.authorization_type,
        account.updated_at,
        account.id,
    ]


def _stream_lines(out: Output, rows: Iterable[list[str]]) -> int:
    """Tab-separated rows under a header line, written as they come; the row count."""
    count = 0
    for row in rows:
        if count == 0:
            out.result(HEADER_LINE)
        out.result("\t".join(" ".join(cell.split()) for cell in row))
        count += 1
    return count


def register(app: typer.Typer) -> None:
    accounts_app = typer.Typer(
        name="accounts",
        epilog="""
            sk accounts list --user user_123
            sk accounts list --all --json
        """,
        cls=SkSubGroup,
        help="List connected accounts across users.",
        no_args_is_help=True,
    )

    @accounts_app.command(
        "list",
        cls=SkCommand,
        epilog="""
            sk accounts list --user user_123
            sk accounts list --connector gmail --json
            sk accounts list --all
        """,
    )
    def list_command(
        ctx: typer.Context,
        connector: Annotated[
            str | None,
            typer.Option("--connector", help="Only this connection's accounts.", metavar="NAME"),
        ] = None,
        user: Annotated[
            str | None,
            typer.Option("--user", "-u", help="Only this user's accounts.", metavar="ID"),
        ] = None,
        all_pages: Annotated[
            bool,
            typer.Option("--all", help="Read every page (default: the first 99 accounts)."),
        ] = False,
        json_mode: JsonOption = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """List connected accounts of every user (the first 99, or --all)."""
        options = AccountsListOptions(connector, user, all_pages, json_mode)
        execute(ctx, run, options, json_mode=json_mode, verbose=verbose, debug=debug)

    app.add_typer(accounts_app)
