"""`sk help COMMAND [SUB]` and `sk version`, as in gh: the root's own commands, which need no
module of their own (app.SkGroup.get_command finds them here)."""

from __future__ import annotations

import click

from .. import __version__
from ..errors import ExitCode
from .commands import SkCommand


def _show_help(words: tuple[str, ...]) -> None:
    ctx = click.get_current_context()
    current = ctx.find_root()
    command = current.command
    for word in words:
        child = command.get_command(current, word) if isinstance(command, click.Group) else None
        if child is None:
            raise click.UsageError(f"no such command: {' '.join(words)!r}", ctx)
        # The context `sk … WORD --help` would make, so the help reads the same.
        current = child.make_context(word, [], parent=current, resilient_parsing=True)
        command = child
    click.echo(command.get_help(current))
    ctx.exit(ExitCode.OK)


def _show_version() -> None:
    click.echo(f"sk {__version__}")


BUILTINS: dict[str, click.Command] = {
    "help": SkCommand(
        "help",
        callback=_show_help,
        params=[click.Argument(["words"], nargs=-1, metavar="[COMMAND [SUB]]")],
        help="Show a command's help: `sk help gmail unread` is `sk gmail unread --help`.",
        epilog="sk help\nsk help connect\nsk help gmail unread",
    ),
    "version": SkCommand(
        "version",
        callback=_show_version,
        help="Print sk's version.",
        epilog="sk version",
    ),
}
SUMMARIES = {
    "help": "Show a command's help (sk help gmail unread).",
    "version": "Print sk's version.",
}
