"""`sk token …` without building the Typer app.

CI jobs and shell loops run `sk token` over and over, and the Typer app costs more than the
command: importing Typer, building the command's parameters, and the pydantic type adapters
Typer coerces each value with (~100 ms together, against one HTTP request). When the command
line has exactly a shape this module understands, it runs the same function the Typer command
runs (`commands.token.run_from_cli`). The global options are taken out by the same
`global_options.place` the Typer app uses, so they are accepted before or after `token` here
too. Anything else — help, `--version`, an option it does not know, a repeated option, a
value that starts with '-', a missing `--user`, `--` — goes to the Typer app, so usage
errors and their exit codes are always Typer's own.

TOKEN_FLAGS and TOKEN_VALUES mirror commands/token_cli.py, parameter for parameter;
tests/cli/test_fast_path.py fails when they drift apart and runs both paths side by side.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Sequence

from .cli.global_options import GlobalValues, Shape, place
from .errors import CliError

COMMAND = "token"
# Typer's shell-completion hook reads this variable before parsing anything.
COMPLETE_VARIABLE = "_SK_COMPLETE"

# option → Typer parameter name; flags take no value, the others exactly one.
TOKEN_FLAGS = {"--json": "json_mode", "--debug": "debug", "-v": "verbose", "--verbose": "verbose"}
TOKEN_VALUES = {
    "--user": "user",
    "-u": "user",
    "--field": "field",
    "--to-github-env": "to_github_env",
    "--to-github-output": "to_github_output",
}
TOKEN_SHAPE = Shape(frozenset(TOKEN_FLAGS), frozenset(TOKEN_VALUES))
# Only `token` is known here: any other command word leaves the line to the Typer app.
ROOT_SHAPE = Shape(subcommand=lambda name: TOKEN_SHAPE if name == COMMAND else None)


class TokenCall:
    """A parsed `sk … token CONNECTOR …`: the global options token does not declare itself,
    and token's own parameters. (Not a dataclass: see global_options.)"""

    __slots__ = ("params", "root")

    def __init__(self, root: GlobalValues) -> None:
        self.root = root
        self.params: dict[str, str | bool] = {}


def _is_text(arg: str) -> bool:
    # Undecodable bytes arrive as lone surrogates; Typer's coercion has its own say on those.
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _take_option(
    args: Sequence[str],
    position: int,
    flags: dict[str, str],
    values: dict[str, str],
    into: dict[str, str | bool],
) -> int | None:
    """How many arguments the option at `position` takes up, recording its value; None when it
    is not one of ours, is repeated, or its value looks like an option."""
    name, equals, inline = args[position].partition("=")
    if name in flags and not equals:
        key, value, used = flags[name], True, 1
    elif name in values and equals and name.startswith("--"):
        key, value, used = values[name], inline, 1
    elif name in values and not equals and position + 1 < len(args):
        key, value, used = values[name], args[position + 1], 2
    else:
        return None
    if key in into or (isinstance(value, str) and value.startswith("-")):
        return None
    into[key] = value
    return used


def parse(args: Sequence[str]) -> TokenCall | None:
    """The `sk token` call these arguments make, or None to leave them to the Typer app."""
    if os.name == "nt" or os.environ.get(COMPLETE_VARIABLE):
        return None  # Typer expands wildcards on Windows, and completes when asked
    if not all(_is_text(arg) for arg in args):
        return None
    try:
        placement = place(args, ROOT_SHAPE)
    except CliError:
        return None  # a global option without its value: Typer's path says so
    if placement.args[:1] != [COMMAND]:
        return None
    call = TokenCall(root=placement.values)
    rest = placement.args[1:]
    position = 0
    while position < len(rest):
        arg = rest[position]
        if not arg.startswith("-"):
            if "connector" in call.params:
                return None  # an extra argument: Typer's error
            call.params["connector"] = arg
            position += 1
            continue
        used = _take_option(rest, position, TOKEN_FLAGS, TOKEN_VALUES, call.params)
        if used is None:
            return None
        position += used
    if "connector" not in call.params or "user" not in call.params:
        return None
    from .commands._runner import connector_problem, identifier_problem

    if connector_problem(str(call.params["connector"])) or identifier_problem(
        str(call.params["user"])
    ):
        return None  # refused by the options' own parsers: Typer's path words it
    return call


def run(args: Sequence[str]) -> int | None:
    """Run `sk token` when `parse` understands the arguments; None to use the Typer app.

    Around the command, failures end as they do under Typer (`typer.core._main` and
    `app.SkGroup.main`): Ctrl-C exits 130 silently (the command reports its own Ctrl-C),
    end of input prints an empty line and `sk: aborted` (130), and a closed stdout exits 1
    without a traceback.
    """
    call = parse(args)
    if call is None:
        return None
    from .commands.token import run_from_cli

    try:
        return run_from_cli(call.root.flags(), **call.params)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        return 130
    except EOFError:
        sys.stderr.write("\nsk: aborted\n")
        return 130
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        # Typer's own answer to a closed pipe: no flush error at exit, status 1.
        from typer._click.utils import PacifyFlushWrapper

        sys.stdout = PacifyFlushWrapper(sys.stdout)  # type: ignore[assignment]
        sys.stderr = PacifyFlushWrapper(sys.stderr)  # type: ignore[assignment]
        sys.exit(1)
