"""What every command shares: the common options, input validation, and the run wrapper that
turns any failure into one line on stderr and a documented exit code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, NoReturn

import typer

from ..cli.completion import complete_connector
from ..cli.global_options import GlobalValues, root_values
from ..config import Flags
from ..output import Output
from ..runtime import Runtime
from .runner import (  # noqa: F401 - re-exported for the command modules
    Options,
    connector_problem,
    describe_failure,
    identifier_problem,
    positive_number,
    refuse_empty,
    run_command,
    validate_connector,
    validate_identifier,
    validate_verify_url,
    verify_url_problem,
)

# What a user types is checked as the command line is parsed, by the option's own parser
# (Typer's `parser=`, a Click parameter type underneath): a value the service's rules refuse
# is a usage error naming the option (exit 2), and nothing is sent.


def _checked(value: str, problem: Callable[[str], str | None]) -> str:
    found = problem(value)
    if found:
        raise typer.BadParameter(found)
    return value


def user_id(value: str) -> str:
    """--user: the service's rule for identifier (length), and no control character."""
    return _checked(value, identifier_problem)


def connector_name(value: str) -> str:
    """A connection's name: the service's rule for connector (pattern, length)."""
    return _checked(value, connector_problem)


def verify_url(value: str) -> str:
    """--verify-url: the service's rule for user_verify_url (^https?://, length)."""
    return _checked(value, verify_url_problem)


JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
DebugOption = Annotated[
    bool,
    typer.Option(
        "--debug",
        help=(
            "Reveal what the command itself outputs (the token, secret fields of --json); "
            "it turns on no trace."
        ),
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
        parser=user_id,
    ),
]
ConnectorArgument = Annotated[
    str,
    typer.Argument(
        help="The connection's name, e.g. gmail, slack, notion.",
        metavar="CONNECTOR",
        parser=connector_name,
        autocompletion=complete_connector,
    ),
]


def confirm(out: Output, question: str) -> bool:
    """Ask on stderr, read one line from stdin; only y or yes agrees (end of input does not)."""
    out.prompt(question)
    answer = out.stdin.readline()
    if not answer.endswith("\n"):
        out.stderr.write("\n")  # end of input: finish the prompt's line
    return answer.strip().lower() in ("y", "yes")


def global_values(ctx: typer.Context) -> GlobalValues:
    """The global options of this command line that the command does not declare itself
    (scalekit_cli/cli/global_options.py); the root hands them down as the context's object."""
    return root_values(ctx)


def context_flags(ctx: typer.Context) -> Flags:
    """--sandbox, --env-url, --client-id and --profile, wherever they stood."""
    return global_values(ctx).flags()


def execute(
    ctx: typer.Context,
    run: Callable[[Options, Runtime], int],
    options: Options,
    *,
    json_mode: bool = False,
    verbose: bool = False,
    debug: bool = False,
) -> NoReturn:
    """Run a command's `run` with a fresh Output and Runtime, and exit with its code.

    `json_mode`, `verbose` and `debug` are the command's own --json, -v and --debug, when it
    declares them; a command that does not still honours them as global options."""
    given = global_values(ctx)
    code = run_command(
        run,
        options,
        given.flags(),
        json_mode=json_mode or given.json,
        verbose=verbose or given.verbose,
        debug=debug or given.debug,
    )
    raise typer.Exit(code)
