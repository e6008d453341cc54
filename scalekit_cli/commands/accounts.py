"""`sk accounts list [--connector NAME] [--user ID] [--status S] [--all]` — connected accounts
of the environment, across users; `sk accounts update CONNECTOR --user ID` — new static
credentials or api_config for one of them.

Without `--all` only the first page (up to 99: the service's rule is `page_size < 100`) is
read, and stderr says when more exist; with `--all` every page is read, one page in memory
at a time, and rows are written as pages arrive (a pipe's tab-separated lines and `--json`'s
array both stream). ListConnectedAccounts has no status parameter, so `--status` is applied
here, to the accounts read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..cli.commands import SkCommand, SkSubGroup
from ..errors import CliError, ExitCode
from ..output import Output
from ..runtime import Runtime
from ..scalekit.errors import NotFound
from ..scalekit.models import AccountStatus
from ..tables import Column
from ._common import (
    ConnectorArgument,
    DebugOption,
    JsonOption,
    UserOption,
    VerboseOption,
    connector_name,
    execute,
    user_id,
    validate_connector,
    validate_identifier,
)

if TYPE_CHECKING:
    from ..scalekit.models import ConnectedAccount

# On a narrow terminal Type (OAUTH on every row) and then Updated are left out; the status,
# the whole user identifier (for --user) and the whole id (for --account-id) always show.
TABLE_HEADERS = (
    Column("Connector"),
    Column("User"),
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
    status: str | None = None


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
                shown = "checked" if options.status else "showing"
                more.append(
                    f"{shown} the first {len(page.accounts)}{total} accounts; "
                    f"pass --all to {'check' if options.status else 'list'} every one"
                )
        for account in found:
            # The identifier filter is exact here, whatever the server's matching is.
            if options.identifier is not None and account.identifier not in (
                "",
                options.identifier,
            ):
                continue
            if options.status is not None and account.status != options.status:
                continue
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


@dataclass
class AccountsUpdateOptions:
    connector: str
    identifier: str
    credentials_stdin: bool = False
    fields: list[str] = field(default_factory=list)
    api_config: str | None = None
    json: bool = False


def read_api_config(source: str) -> dict[str, Any]:
    """`--api-config`: a JSON object inline, or `@FILE`."""
    if source.startswith("@"):
        try:
            text = Path(source[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(
                f"--api-config {source}: cannot read the file ({exc.__class__.__name__})",
                ExitCode.USAGE,
            ) from None
    else:
        text = source
    from ..json_input import JsonInputError, parse_strict

    try:
        document = parse_strict(text, unique_keys=True)
    except JsonInputError as exc:
        raise CliError(f"--api-config is not valid JSON: {exc}", ExitCode.USAGE) from None
    if not isinstance(document, dict) or not document:
        raise CliError("--api-config must hold a non-empty JSON object", ExitCode.USAGE)
    return document


def update(options: AccountsUpdateOptions, runtime: Runtime) -> int:
    """PUT what UpdateConnectedAccount lets a client change: static credentials (API key,
    basic, bearer) and api_config, which the service merges into the stored one."""
    from .connect import refuse_unless_static, static_details

    validate_connector(options.connector)
    validate_identifier(options.identifier)
    if not (options.credentials_stdin or options.fields or options.api_config is not None):
        raise CliError(
            "nothing to update: pass --credentials-stdin (with any --field) or --api-config",
            ExitCode.USAGE,
        )
    api_config = read_api_config(options.api_config) if options.api_config is not None else None
    connector, identifier = options.connector, options.identifier
    client = runtime.scalekit()
    authorization: dict[str, Any] | None = None
    try:
        if options.credentials_stdin or options.fields:
            details = static_details(runtime, options.credentials_stdin, options.fields)
            # The type is checked before any credentials are sent.
            refuse_unless_static(
                runtime, client.get_account(connector, identifier), connector, identifier
            )
            authorization = {"static_auth": {"details": details}}
        account = client.update_account(
            connector, identifier, authorization_details=authorization, api_config=api_config
        )
    except NotFound:
        from .known_names import missing_account

        raise missing_account(runtime, connector, identifier) from None
    what = " and ".join(
        name
        for name, given in (("credentials", authorization), ("api_config", api_config))
        if given
    )
    runtime.out.success(
        f"updated the {what} of the {connector} account of {identifier} "
        f"({account.status or 'status unknown'})"
    )
    if options.json:
        runtime.out.json(account.summary())
    return ExitCode.OK


def register(app: typer.Typer) -> None:
    accounts_app = typer.Typer(
        name="accounts",
        epilog="""
            sk accounts list --user user_123
            sk accounts list --all --json
            sk accounts update exa --user user_123 --credentials-stdin
        """,
        cls=SkSubGroup,
        help="List connected accounts across users, or update one.",
        no_args_is_help=True,
    )

    @accounts_app.command(
        "list",
        cls=SkCommand,
        epilog="""
            sk accounts list --user user_123
            sk accounts list --connector gmail --json
            sk accounts list --status EXPIRED --all
        """,
    )
    def list_command(
        ctx: typer.Context,
        connector: Annotated[
            str | None,
            typer.Option(
                "--connector",
                help="Only this connection's accounts.",
                metavar="NAME",
                parser=connector_name,
            ),
        ] = None,
        user: Annotated[
            str | None,
            typer.Option(
                "--user", "-u", help="Only this user's accounts.", metavar="ID", parser=user_id
            ),
        ] = None,
        status: Annotated[
            AccountStatus | None,
            typer.Option(
                "--status",
                metavar="STATUS",
                help=f"Only accounts in this status: {', '.join(AccountStatus)}. Filtered by "
                "sk, as the service's list has no status filter: without --all, only the first "
                "page's accounts are checked.",
            ),
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
        options = AccountsListOptions(
            connector, user, all_pages, json_mode, status.value if status else None
        )
        execute(ctx, run, options, json_mode=json_mode, verbose=verbose, debug=debug)

    @accounts_app.command(
        "update",
        cls=SkCommand,
        epilog="""
            sk accounts update exa --user user_123 --credentials-stdin
            sk accounts update exa --user user_123 --api-config '{"region": "eu"}'
        """,
    )
    def update_command(
        ctx: typer.Context,
        connector: ConnectorArgument,
        user: UserOption,
        credentials_stdin: Annotated[
            bool,
            typer.Option(
                "--credentials-stdin",
                help="New credentials of an API-key, basic or bearer account, as a JSON object "
                'on stdin (e.g. {"api_key": "…"}).',
            ),
        ] = False,
        field_items: Annotated[
            list[str] | None,
            typer.Option(
                "--field",
                help="A non-secret credential field for --credentials-stdin (repeatable; "
                "secret-looking keys are refused).",
                metavar="KEY=VALUE",
            ),
        ] = None,
        api_config: Annotated[
            str | None,
            typer.Option(
                "--api-config",
                help="Connector API settings to merge into the account's: a JSON object, or @FILE.",
                metavar="JSON",
            ),
        ] = None,
        json_mode: JsonOption = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """Update an account's static credentials or api_config (PUT, no browser)."""
        options = AccountsUpdateOptions(
            connector, user, credentials_stdin, list(field_items or []), api_config, json_mode
        )
        execute(ctx, update, options, json_mode=json_mode, verbose=verbose, debug=debug)

    app.add_typer(accounts_app)
