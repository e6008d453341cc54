"""The classes of sk's commands and groups, given to Typer as `cls=` (its documented way to
choose the Click class): each carries the global options it does not declare itself, names
its values in help (SECONDS, N, the option's name — never a Python type), and lists the
global options in a section of their own.

Every command module declares its commands with `cls=SkCommand` and its groups with
`cls=SkSubGroup`; the root is `app.SkGroup`.
"""

from __future__ import annotations

from typing import Any

import click
from typer.core import TyperCommand, TyperGroup

from .global_options import GlobalClickOption, click_options, take_for_own_parameters


def default_metavar(param: click.Option) -> str:
    """A name for an option's value when the command gave none: SECONDS for a float (sk's
    floats are durations), N for an int, else the option's own name (--query QUERY)."""
    if isinstance(param.type, click.types.FloatParamType):
        return "SECONDS"
    if isinstance(param.type, click.types.IntParamType):
        return "N"
    long_name = next((n for n in param.opts if n.startswith("--")), param.opts[0])
    return long_name.lstrip("-").replace("-", "_").upper()


def argument_name(param: click.Parameter) -> str:
    return param.metavar or (param.name or "").upper()


def prepare(command: click.Command) -> None:
    """Name every option's value, and add the global options the command lacks."""
    for param in command.params:
        named = isinstance(param, click.Option) and not param.is_flag and not param.count
        if named and not isinstance(param.type, click.Choice):
            param.metavar = param.metavar or default_metavar(param)
    command.params.extend(click_options(command))


def global_options_section(
    command: click.Command, ctx: click.Context, formatter: click.HelpFormatter
) -> None:
    rows = [
        record
        for param in command.get_params(ctx)
        if isinstance(param, GlobalClickOption)
        and (record := param.get_help_record(ctx)) is not None
    ]
    if rows:
        with formatter.section("Global options (before or after the command)"):
            formatter.write_dl(rows)


def format_params(
    command: click.Command, ctx: click.Context, formatter: click.HelpFormatter
) -> None:
    arguments, options = [], []
    for param in command.get_params(ctx):
        if isinstance(param, GlobalClickOption):
            continue
        record = param.get_help_record(ctx)
        if record is None:
            continue
        if isinstance(param, click.Argument):
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


def usage_pieces(command: click.Command, ctx: click.Context) -> list[str]:
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if not isinstance(param, click.Argument):
            continue
        name = argument_name(param)
        if "[" in name or " " in name:  # a metavar that spells out its own shape
            pieces.append(name)
            continue
        name = name if param.required else f"[{name}]"
        pieces.append(name + ("..." if param.nargs != 1 else ""))
    return pieces


def format_examples(command: click.Command, formatter: click.HelpFormatter) -> None:
    """The epilog holds the command's examples, one command line a line, shown as written
    (never re-wrapped: each must run when pasted)."""
    if command.epilog:
        with formatter.section("Examples"):
            for line in command.epilog.strip().splitlines():
                formatter.write(f"{'':>{formatter.current_indent}}{line.strip()}\n")


class SkCommand(TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        prepare(self)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        take_for_own_parameters(self, ctx)
        return rest

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return usage_pieces(self, ctx)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        format_params(self, ctx, formatter)
        global_options_section(self, ctx, formatter)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        format_examples(self, formatter)


class SkSubGroup(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        prepare(self)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        take_for_own_parameters(self, ctx)
        return rest

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
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

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        format_params(self, ctx, formatter)
        self.format_commands(ctx, formatter)
        global_options_section(self, ctx, formatter)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        format_examples(self, formatter)
