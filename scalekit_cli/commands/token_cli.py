"""The Typer signature of `sk token` (the command itself is commands/token.py).

Apart so that `sk token`'s fast path can import the command without Typer; the fast path
parses exactly these parameters, and tests/cli/test_fast_path.py holds the two together.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ..cli.commands import SkCommand
from ._common import (
    ConnectorArgument,
    DebugOption,
    JsonOption,
    UserOption,
    VerboseOption,
    context_flags,
)
from .token import run_from_cli


def register(app: typer.Typer) -> None:
    @app.command(
        "token",
        cls=SkCommand,
        epilog="""
            sk token gmail --user user_123
            sk token gmail --user user_123 --json --debug
            sk token gmail --user user_123 --to-github-env GMAIL_TOKEN
        """,
    )
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
        to_github_env: Annotated[
            str | None,
            typer.Option(
                "--to-github-env",
                help="Append NAME=token to $GITHUB_ENV instead of printing it.",
                metavar="NAME",
            ),
        ] = None,
        to_github_output: Annotated[
            str | None,
            typer.Option(
                "--to-github-output",
                help="Append NAME=token to $GITHUB_OUTPUT instead of printing it.",
                metavar="NAME",
            ),
        ] = None,
        json_mode: JsonOption = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """Print the account's fresh access token (redacted unless --debug)."""
        code = run_from_cli(
            context_flags(ctx),
            connector=connector,
            user=user,
            field=field,
            to_github_env=to_github_env,
            to_github_output=to_github_output,
            json_mode=json_mode,
            debug=debug,
            verbose=verbose,
        )
        raise typer.Exit(code)
