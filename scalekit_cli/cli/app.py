"""The Typer app: the root, the registry of commands, and their help.

Commands are loaded lazily: `COMMANDS` names each one, its module and its one-line summary,
and a command's module is imported (and its Typer signature built) only when that command is
invoked — `sk --help` imports none, `sk status …` only commands/status.py. Adding a command
(or a group of them) is one `Command` entry here plus its module with `register(app)`.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Annotated, Any

import click
import typer
from click.shell_completion import shell_complete
from typer.core import TyperGroup

from .. import __version__
from ..errors import ExitCode
from .commands import format_examples, format_params, global_options_section, prepare
from .global_options import GlobalValues

HELP_NAMES = ("-h", "--help")


@dataclass(frozen=True)
class Command:
    name: str  # what the user types: `sk NAME`
    module: str  # scalekit_cli.commands.MODULE, whose register(app) declares it
    summary: str  # its line in `sk --help`: one line at 80 columns


COMMANDS: tuple[Command, ...] = (
    Command("connect", "connect", "Connect an account: print its magic link, wait until ACTIVE."),
    Command("status", "status", "Show a user's connected accounts; exit 3 unless all ACTIVE."),
    Command("token", "token", "Print an account's fresh token (redacted unless --debug)."),
    Command("gmail", "gmail", "Read a user's Gmail with their connected account."),
    Command("exec-tool", "exec_tool", "Run a Scalekit tool for a user and print its data."),
    Command("connections", "connections", "List the connections this environment can connect."),
    Command("tools", "tools", "Browse the tool catalogue (what exec-tool can run)."),
    Command("accounts", "accounts", "List connected accounts across users, or update one."),
    Command("disconnect", "disconnect", "Delete a connected account and its tokens."),
    Command("run", "run", "Run a command with an account's fresh token in its environment."),
    Command("request", "request", "Call the provider's API through Scalekit's proxy."),
    Command("login", "login", "Check client credentials and store them as a profile."),
    Command("logout", "logout", "Remove a stored profile and its client secret."),
    Command("config", "config_cmd", "Inspect the resolved configuration."),
    Command("doctor", "doctor", "Check that sk can work from here, one line per check."),
    Command("demo", "demo", "Run the whole flow on the local sandbox."),
    Command("sandbox", "sandbox", "The local AgentKit sandbox: serve, reset, force states."),
    Command("mcp", "mcp", "Serve a user's connected apps to AI agents over MCP."),
    Command("completion", "completion", "Print the shell completion script for bash, zsh, …"),
)
BY_NAME = {command.name: command for command in COMMANDS}
_loaded: dict[str, Any] = {}


def load(name: str) -> click.Command:
    """The click command (or group) `sk NAME`, built from its module on first use."""
    if name not in _loaded:
        entry = BY_NAME[name]
        module = importlib.import_module(f"scalekit_cli.commands.{entry.module}")
        holder = typer.Typer(rich_markup_mode=None, add_completion=False)
        module.register(holder)
        group = typer.main.get_group(holder)
        _loaded[name] = group.commands[name]
    return _loaded[name]


def leaf_commands() -> list[tuple[tuple[str, ...], click.Command]]:
    """(path, click command) of every command that runs (`("gmail", "unread")`, …), loading
    every module: for the tests, the completion scripts and the docs, not for a command line."""
    found: list[tuple[tuple[str, ...], click.Command]] = []

    def walk(path: tuple[str, ...], command: click.Command) -> None:
        children = getattr(command, "commands", None)
        if not children:
            found.append((path, command))
        for name, child in (children or {}).items():
            walk((*path, name), child)

    for entry in COMMANDS:
        walk((entry.name,), load(entry.name))
    return found


# Click's completion protocol: the completion scripts call `sk` with this variable set.
COMPLETE_VARIABLE = "_SK_COMPLETE"


class SkGroup(TyperGroup):
    """The root: lazily loaded commands (a Group whose `list_commands`/`get_command` import
    on demand, as Click documents), the global options, and usage errors that end in one line
    on stderr (`sk: …`), never a usage block or a traceback."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        prepare(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        from .builtins import BUILTINS

        return [*(command.name for command in COMMANDS), *BUILTINS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in BY_NAME:
            return load(cmd_name)
        from .builtins import BUILTINS

        return BUILTINS.get(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        # Suggestions from the registry: the root holds no command until one is loaded.
        try:
            return click.Group.resolve_command(self, ctx, args)
        except click.UsageError as error:
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches:
                suggestions = ", ".join(repr(match) for match in matches)
                error.message = f"{error.message.rstrip('.')}. Did you mean {suggestions}?"
            raise

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from .builtins import SUMMARIES

        rows = [(command.name, command.summary) for command in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl([*rows, *SUMMARIES.items()])

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        format_params(self, ctx, formatter)
        global_options_section(self, ctx, formatter)
        self.format_commands(ctx, formatter)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        format_examples(self, formatter)

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        args = list(sys.argv[1:] if args is None else args)
        code: Any
        position = non_utf8_argument(args)
        instruction = os.environ.get(COMPLETE_VARIABLE)
        if instruction:
            # A TAB in a shell whose completion script `sk completion SHELL` printed: Click's
            # own completion (its instruction spelling, `bash_complete`, not Typer's).
            from . import completion  # noqa: F401 - registers the PowerShell class

            code = shell_complete(self, {}, "sk", COMPLETE_VARIABLE, instruction)
        elif position:
            # A byte that is not UTF-8 reaches Python as a lone surrogate, which no request can
            # carry: refuse it here, for every option, before anything is sent.
            sys.stderr.write(f"sk: argument {position} holds bytes that are not UTF-8\n")
            code = ExitCode.USAGE
        else:
            code = self._run(args, prog_name, **extra)
        code = int(code) if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(self, args: list[str], prog_name: str | None, **extra: Any) -> Any:
        extra.setdefault("obj", GlobalValues())
        try:
            return super().main(
                args=args,
                prog_name=prog_name or "sk",
                complete_var=COMPLETE_VARIABLE,
                standalone_mode=False,
                **extra,
            )
        except click.Abort:
            sys.stderr.write("sk: aborted\n")
            return ExitCode.INTERRUPTED
        except click.exceptions.NoArgsIsHelpError as exc:
            # Bare `sk` or `sk gmail`: the help is the answer, as with gh.
            sys.stdout.write(exc.format_message().rstrip() + "\n")
            return ExitCode.OK
        except click.ClickException as exc:
            sys.stderr.write(f"sk: {usage_line(exc)}\n")
            return exc.exit_code


def non_utf8_argument(args: list[str]) -> int:
    """The 1-based position of the first argument holding a lone surrogate, or 0."""
    for position, arg in enumerate(args, start=1):
        if isinstance(arg, str) and any("\ud800" <= char <= "\udfff" for char in arg):
            return position
    return 0


def usage_line(exc: click.ClickException) -> str:
    message = exc.format_message().strip().replace("\n", " ")
    message = message[:1].lower() + message[1:].rstrip(".")
    ctx = getattr(exc, "ctx", None)
    if exc.exit_code == ExitCode.USAGE:
        return f"{message} (see '{ctx.command_path if ctx is not None else 'sk'} --help')"
    return message


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"sk {__version__}\n")
        raise typer.Exit(0)


app = typer.Typer(
    name="sk",
    cls=SkGroup,
    help="Connect your users' apps through Scalekit AgentKit and get fresh tokens.",
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
    no_args_is_help=True,
    context_settings={"help_option_names": list(HELP_NAMES)},
    epilog="""
    sk connect gmail --user user_123
    sk token gmail --user user_123 --json
    sk help gmail unread
    """,
)


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_show_version
        ),
    ] = False,
) -> None:
    """Connect your users' apps through Scalekit AgentKit and get fresh tokens."""
