"""The Typer app: the root, the registry of commands, and their help.

Commands are loaded lazily: `COMMANDS` names each one, its module and its one-line summary,
and a command's module is imported (and its Typer signature built) only when that command is
invoked — `sk --help` imports none, `sk status …` only commands/status.py. Adding a command
(or a group of them) is one `Command` entry here plus its module with `register(app)`.
"""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Annotated, Any

import typer
from typer._click.core import Command as ClickCommand
from typer._click.exceptions import UsageError
from typer.core import TyperCommand, TyperGroup

from .. import __version__
from ..errors import CliError, ExitCode
from .global_options import GLOBAL_OPTIONS, Shape, place

HELP_NAMES = ("-h", "--help")


@dataclass(frozen=True)
class Command:
    name: str  # what the user types: `sk NAME`
    module: str  # scalekit_cli.commands.MODULE, whose register(app) declares it
    summary: str  # its line in `sk --help`: one line at 80 columns


COMMANDS: tuple[Command, ...] = (
    Command("connect", "connect", "Connect an account: print its magic link, wait until ACTIVE."),
    Command("status", "status", "Show a user's connected accounts; exit 3 unless all ACTIVE."),
    Command("token", "token", "Print an account's fresh access token (redacted unless --debug)."),
    Command("gmail", "gmail", "Read a user's Gmail with their connected account."),
    Command("exec-tool", "exec_tool", "Run a Scalekit tool for a user and print its data."),
    Command("tools", "tools", "Browse the tool catalogue (what exec-tool can run)."),
    Command("accounts", "accounts", "List connected accounts across users."),
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


def load(name: str) -> Any:
    """The click command (or group) `sk NAME`, built from its module on first use."""
    if name not in _loaded:
        entry = BY_NAME[name]
        module = importlib.import_module(f"scalekit_cli.commands.{entry.module}")
        holder = typer.Typer(rich_markup_mode=None, add_completion=False)
        module.register(holder)
        command = typer.main.get_group(holder).commands[name]
        _adopt(command)
        _loaded[name] = command
    return _loaded[name]


def leaf_commands() -> list[tuple[tuple[str, ...], Any]]:
    """(path, click command) of every command that runs (`("gmail", "unread")`, …), loading
    every module: for the tests, the completion scripts and the docs, not for a command line."""
    found: list[tuple[tuple[str, ...], Any]] = []

    def walk(path: tuple[str, ...], command: Any) -> None:
        children = getattr(command, "commands", None)
        if not children:
            found.append((path, command))
        for name, child in (children or {}).items():
            walk((*path, name), child)

    for entry in COMMANDS:
        walk((entry.name,), load(entry.name))
    return found


def _walk(command: Any):
    yield command
    for child in getattr(command, "commands", {}).values():
        yield from _walk(child)


def _adopt(command: Any) -> None:
    """Give every command of the tree sk's help (value names for metavars, the global options)
    and its values without pydantic when they need no conversion.

    Typer builds its own classes; ours only add help formatting (no state), so the instances
    take them over in place.
    """
    for node in _walk(command):
        node.__class__ = SkSubGroup if isinstance(node, TyperGroup) else SkCommand
        for param in node.params:
            plain_values(param)
            if param.param_type_name == "option" and not param.is_flag and not param.count:
                param.metavar = param.metavar or default_metavar(param)


_INTEGER = re.compile(r"[0-9]{1,18}")
_DECIMAL = re.compile(r"[0-9]{1,15}(\.[0-9]{1,15})?")


class PlainValues:
    """Typer converts every parameter's value through a pydantic TypeAdapter, and importing
    pydantic costs more than the rest of sk's start-up. A value that already has its
    parameter's type needs no conversion: any text for a `str` parameter, a flag's bool, an
    unset option's None; nor does a plain decimal number for an `int` or `float` one. Any
    other value goes to Typer's own conversion, built the first time one comes."""

    def __init__(self, descriptor: Any) -> None:
        self.descriptor = descriptor
        self._typer: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        many = param.multiple or param.nargs == -1
        annotation = self.descriptor.annotation
        if value is None and not many:
            return None
        parser = self.descriptor.parameter_info.parser
        if parser is not None and not many and type(value) is str:
            # A checked input (commands/_common.py): its own parser, its error worded as
            # Typer's conversion words it, and no Pydantic loaded for it.
            try:
                return parser(value)
            except typer.BadParameter as error:
                error.param = error.param or param
                error.ctx = error.ctx or ctx
                raise
        if not many and annotation in (str, bool, int, float) and type(value) is annotation:
            return value  # given as text, or a default of the right type
        if not many and type(value) is str and not self.descriptor.is_ranged:
            # Plain decimal numbers; anything else (and every error message) is Typer's.
            if annotation is int and _INTEGER.fullmatch(value):
                return int(value)
            if annotation is float and _DECIMAL.fullmatch(value):
                return float(value)
        if self._typer is None:
            from typer._coercion import build_runtime_param

            self._typer = build_runtime_param(self.descriptor)
        return self._typer.coerce(value, param=param, ctx=ctx)


def plain_values(param: Any) -> Any:
    # Typer keeps a parameter's conversion in `_runtime_param`, built on first use; where a
    # Typer release has no such slot, its own conversion is left alone (slower, as correct).
    if getattr(param, "_runtime_param", False) is None and hasattr(param, "type_descriptor"):
        param._runtime_param = PlainValues(param.type_descriptor)
    return param


def _plain_help_option(command: Any, ctx: Any) -> Any:
    option = ClickCommand.get_help_option(command, ctx)
    return plain_values(option) if option is not None else None


def default_metavar(param: Any) -> str:
    """A name for an option's value when the command gave none: SECONDS for a float (sk's
    floats are durations), N for an int, else the option's own name (--query QUERY)."""
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if annotation is float:
        return "SECONDS"
    if annotation is int:
        return "N"
    long_name = next((n for n in param.opts if n.startswith("--")), param.opts[0])
    return long_name.lstrip("-").replace("-", "_").upper()


def argument_name(param: Any) -> str:
    return param.metavar or param.name.upper()


def shape_of(command: Any) -> Shape:
    flags, values = set(HELP_NAMES), set()
    for param in command.params:
        if param.param_type_name == "option":
            names = [*param.opts, *param.secondary_opts]
            (flags if param.is_flag or param.count else values).update(names)
    subcommand = None
    if isinstance(command, TyperGroup):

        def subcommand(name: str) -> Shape | None:
            child = command.commands.get(name)
            return shape_of(child) if child is not None else None

    return Shape(frozenset(flags), frozenset(values), subcommand)


def root_shape() -> Shape:
    def subcommand(name: str) -> Shape | None:
        return shape_of(load(name)) if name in BY_NAME else None

    return Shape(frozenset({*HELP_NAMES, "--version"}), frozenset(), subcommand)


def _global_options_section(command: Any, ctx: Any, formatter: Any) -> None:
    """The global options this command does not declare itself, as a help section."""
    shape = shape_of(command)
    rows = [
        (
            ", ".join(option.names) + (f" {option.metavar}" if option.metavar else ""),
            option.help,
        )
        for option in GLOBAL_OPTIONS
        if shape.declares(option) is None
    ]
    if rows:
        with formatter.section("Global options (before or after the command)"):
            formatter.write_dl(rows)


def _format_params(command: Any, ctx: Any, formatter: Any) -> None:
    arguments, options = [], []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        if param.param_type_name == "argument":
            # Typer writes the Python type after the name (`CONNECTOR <str>`): the name says it.
            arguments.append((argument_name(param), record[1]))
        else:
            options.append(record)
    if arguments:
        with formatter.section("Arguments"):
            formatter.write_dl(arguments)
    if options:
        with formatter.section("Options"):
            formatter.write_dl(options)


def _usage_pieces(command: Any, ctx: Any) -> list[str]:
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if param.param_type_name != "argument":
            continue
        name = argument_name(param)
        if "[" in name or " " in name:  # a metavar that spells out its own shape
            pieces.append(name)
            continue
        name = name if param.required else f"[{name}]"
        pieces.append(name + ("..." if param.nargs != 1 else ""))
    return pieces


class SkCommand(TyperCommand):
    get_help_option = _plain_help_option

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return _usage_pieces(self, ctx)

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _format_params(self, ctx, formatter)
        _global_options_section(self, ctx, formatter)


class SkSubGroup(TyperGroup):
    get_help_option = _plain_help_option

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # Each command's first paragraph whole, wrapped if need be: Click would cut it at
        # the column's end with "...", mid-sentence.
        rows = [
            (name, (command.short_help or command.help or "").split("\n\n")[0].strip())
            for name, command in self.commands.items()
            if not command.hidden
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _format_params(self, ctx, formatter)
        self.format_commands(ctx, formatter)
        _global_options_section(self, ctx, formatter)


class SkGroup(TyperGroup):
    """The root: lazily loaded commands, global options anywhere, and usage errors that end in
    one line on stderr (`sk: …`), never a usage block or a traceback."""

    get_help_option = _plain_help_option

    def list_commands(self, ctx: Any) -> list[str]:
        return [command.name for command in COMMANDS]

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        # Typer suggests from the commands it holds, and the root holds none until loaded.
        try:
            return self._click_resolve_command(ctx, args)
        except UsageError as error:
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches:
                suggestions = ", ".join(repr(match) for match in matches)
                error.message = f"{error.message.rstrip('.')}. Did you mean {suggestions}?"
            raise

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        return load(cmd_name) if cmd_name in BY_NAME else None

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(command.name, command.summary) for command in COMMANDS])

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _format_params(self, ctx, formatter)
        _global_options_section(self, ctx, formatter)
        self.format_commands(ctx, formatter)

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
        if position:
            # A byte that is not UTF-8 reaches Python as a lone surrogate, which no request can
            # carry: refuse it here, for every option, before anything is sent.
            sys.stderr.write(f"sk: argument {position} holds bytes that are not UTF-8\n")
            code = ExitCode.USAGE
        else:
            code = self._main(args, prog_name, complete_var, **extra)
        code = int(code) if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code

    def _main(self, args: list[str], prog_name: str | None, complete_var: Any, **extra: Any) -> Any:
        for param in self.params:
            plain_values(param)
        try:
            placement = place(args, root_shape())
        except CliError as exc:
            sys.stderr.write(f"sk: {exc.message} (see 'sk --help')\n")
            return exc.exit_code
        try:
            return super().main(
                args=placement.args,
                prog_name=prog_name or "sk",
                complete_var=complete_var,
                standalone_mode=False,
                obj=placement.values,
                **extra,
            )
        except typer.Abort:
            sys.stderr.write("sk: aborted\n")
            return ExitCode.INTERRUPTED
        except typer.TyperException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":
                # Bare `sk` or `sk gmail`: the help is the answer, as with gh.
                sys.stdout.write(exc.format_message().rstrip() + "\n")
                return ExitCode.OK
            sys.stderr.write(f"sk: {usage_line(exc)}\n")
            return exc.exit_code


def non_utf8_argument(args: list[str]) -> int:
    """The 1-based position of the first argument holding a lone surrogate, or 0."""
    for position, arg in enumerate(args, start=1):
        if isinstance(arg, str) and any("\ud800" <= char <= "\udfff" for char in arg):
            return position
    return 0


def usage_line(exc: typer.TyperException) -> str:
    message = exc.format_message().strip().replace("\n", " ")
    message = message[:1].lower() + message[1:].rstrip(".")
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and exc.exit_code == ExitCode.USAGE:
        return f"{message} (see '{ctx.command_path} --help')"
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
