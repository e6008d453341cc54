"""`sk gmail unread --user ID` — the user's unread mail, read straight from Gmail.

One list call, then every message's metadata read concurrently. A Gmail 401 gets one fresh
token from Scalekit and one retry; a second 401 means the grant itself is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from ..cli.commands import SkCommand, SkSubGroup
from ..errors import CliError, ExitCode, connect_command
from ..runtime import Runtime
from ..scalekit.errors import ProviderError
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
from ._numbers import integer
from .token import primary_secret, read_active_account

if TYPE_CHECKING:
    from ..scalekit.models import GmailMessage

LIMIT_MIN, LIMIT_MAX = 1, 500


@dataclass
class UnreadOptions:
    identifier: str
    limit: int = 5
    query: str = "is:unread"
    connector: str = "gmail"
    json: bool = False


def _fetch(runtime: Runtime, options: UnreadOptions) -> list[GmailMessage]:
    account = read_active_account(runtime, options.connector, options.identifier)
    gmail = runtime.gmail(primary_secret(account)[1])
    ids = gmail.list_message_ids(options.query, options.limit)
    return gmail.read_messages(ids)


def run(options: UnreadOptions, runtime: Runtime) -> int:
    validate_identifier(options.identifier)
    validate_connector(options.connector)
    if not LIMIT_MIN <= options.limit <= LIMIT_MAX:
        raise CliError(f"--limit must be between {LIMIT_MIN} and {LIMIT_MAX}", ExitCode.USAGE)
    if not options.query.strip():
        raise CliError("--query must not be empty", ExitCode.USAGE)
    out = runtime.out
    try:
        messages = _fetch(runtime, options)
    except ProviderError as exc:
        if exc.status != 401:
            raise
        out.detail("Gmail refused the token; reading a fresh one from Scalekit and retrying once")
        try:
            messages = _fetch(runtime, options)
        except ProviderError as again:
            if again.status != 401:
                raise
            raise CliError(
                f"Gmail rejected the {options.connector} token twice ({again}); reconnect: "
                + connect_command(
                    options.connector, options.identifier, **runtime.connect_hint_args()
                )
                + " --force",
                ExitCode.FAILURE,
            ) from None
    messages.sort(key=lambda message: message.internal_date, reverse=True)
    if options.json:
        out.json([message.to_json() for message in messages])
        return ExitCode.OK
    if not messages:
        out.info(f"no messages match {options.query!r}")
        return ExitCode.OK
    out.table(
        (
            Column("From", shrink=12),
            Column("Subject", shrink=16),
            Column("Date", drop=2, time=True),
            Column("Snippet", shrink=12, drop=1),
        ),
        [[m.sender, m.subject, m.date, m.snippet] for m in messages],
    )
    return ExitCode.OK


def register(app: typer.Typer) -> None:
    gmail_app = typer.Typer(
        name="gmail",
        epilog="""
            sk gmail unread --user user_123
            sk gmail unread --user user_123 -n 5 --json
        """,
        cls=SkSubGroup,
        help="Read a user's Gmail with their connected account.",
        no_args_is_help=True,
    )

    @gmail_app.command(
        "unread",
        cls=SkCommand,
        epilog="""
            sk gmail unread --user user_123
            sk gmail unread --user user_123 -n 5 -q from:boss@example.com --json
        """,
    )
    def unread_command(
        ctx: typer.Context,
        user: UserOption,
        limit: Annotated[
            int,
            typer.Option(
                "--limit", "-n", help="How many messages (1-500).", metavar="N", parser=integer
            ),
        ] = 5,
        query: Annotated[
            str, typer.Option("--query", "-q", help="A Gmail search query.")
        ] = "is:unread",
        connector: Annotated[
            str,
            typer.Option("--connector", help="The Gmail connection's name.", parser=connector_name),
        ] = "gmail",
        json_mode: JsonOption = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """List unread mail (From, Subject, Date, Snippet), newest first."""
        options = UnreadOptions(user, limit, query, connector, json_mode)
        execute(ctx, run, options, json_mode=json_mode, verbose=verbose, debug=debug)

    app.add_typer(gmail_app)
