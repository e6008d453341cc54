"""What every command shares: the common options, input validation, and the run wrapper that
turns any failure into one line on stderr and a documented exit code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, NoReturn

import typer

from ..config import Flags
from ..output import Output
from ..runtime import Runtime

# Validation and the run wrapper need no Typer: they live in _runner, for the fast path.
from ._runner import (  # noqa: F401 - re-exported for the command modules
    MAGIC_LINK_REQUEST,
    Options,
    check_field,
    describe_failure,
    positive_number,
    refuse_empty,
    run_command,
    validate_connector,
    validate_identifier,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
DebugOption = Annotated[
    bool,
    typer.Option(
        "--debug", help="Print the secrets the command outputs (tokens) in full; no trace."
    ),
]
VerboseOption = Annotated[
    bool,
    typer.Option("-v", "--verbose", help="Trace each HTTP exchange on stderr, secrets redacted."),
]
UserOption = Annotated[
    str,
    typer.Option(
        "--user",
        "-u",
        help="Your identifier for the user (e.g. user_123 or an e-mail).",
        metavar="ID",
    ),
]
ConnectorArgument = Annotated[
    str,
    typer.Argument(help="The connection's name, e.g. gmail, slack, notion.", metavar="CONNECTOR"),
]


def confirm(out: Output, question: str) -> bool:
    """Ask on stderr, read one line from stdin; only y or yes agrees (end of input does not)."""
    out.prompt(question)
    answer = out.stdin.readline()
    if not answer.endswith("\n"):
        out.stderr.write("\n")  # end of input: finish the prompt's line
    return answer.strip().lower() in ("y", "yes")


def context_flags(ctx: typer.Context) -> Flags:
    """The root options, as the root callback left them on the context."""
    return ctx.obj if isinstance(ctx.obj, Flags) else Flags()


def execute(
    ctx: typer.Context,
    run: Callable[[Options, Runtime], int],
    options: Options,
    *,
    json_mode: bool = False,
    verbose: bool = False,
    debug: bool = False,
) -> NoReturn:
    """Run a command's `run` with a fresh Output and Runtime, and exit with its code."""
    code = run_command(
        run, options, context_flags(ctx), json_mode=json_mode, verbose=verbose, debug=debug
    )
    raise typer.Exit(code)
