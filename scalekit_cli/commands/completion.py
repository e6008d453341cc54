"""`sk completion bash|zsh|fish|powershell` — the shell completion script.

The script is Click's (scalekit_cli/cli/completion.py): on each TAB it asks `sk` itself, so it
always matches the installed command tree. Printed to stdout only, so that
`eval "$(sk completion bash)"` in ~/.bashrc prints nothing in every new shell; how to install
it goes to stderr, and only when stdout is a terminal (someone reading, not a redirect).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from ..cli.commands import SkCommand
from ..cli.completion import SHELLS, choices
from ..cli.completion import script as completion_script
from ..errors import CliError, ExitCode
from ..runtime import Runtime
from ._common import execute

INSTALL = {
    "bash": 'eval "$(sk completion bash)"  # in ~/.bashrc',
    "zsh": 'eval "$(sk completion zsh)"  # in ~/.zshrc, after compinit',
    "fish": "sk completion fish > ~/.config/fish/completions/sk.fish",
    "powershell": "sk completion powershell | Out-String | Invoke-Expression  # in $PROFILE",
}


@dataclass
class CompletionOptions:
    shell: str


def script(shell: str) -> str:
    """The completion script for `shell` (one of SHELLS), ending in a newline."""
    from ..cli.app import app

    return completion_script(shell, typer.main.get_command(app)).rstrip("\n") + "\n"


def run(options: CompletionOptions, runtime: Runtime) -> int:
    shell = options.shell.lower()
    if shell not in SHELLS:
        raise CliError(
            f"no completion for {options.shell!r}: use {', '.join(SHELLS)}", ExitCode.USAGE
        )
    runtime.out.stdout.write(script(shell))
    runtime.out.stdout.flush()
    if runtime.out.stdout_tty:
        runtime.out.info(f"install: {INSTALL[shell]}")
    return ExitCode.OK


def register(app: typer.Typer) -> None:
    @app.command(
        "completion",
        cls=SkCommand,
        epilog="""
        sk completion bash
        sk completion zsh
        sk completion powershell
        """,
    )
    def completion_command(
        ctx: typer.Context,
        shell: Annotated[
            str,
            typer.Argument(
                help="bash, zsh, fish or powershell.",
                metavar="SHELL",
                autocompletion=choices(SHELLS),
            ),
        ],
    ) -> None:
        """Print the completion script for SHELL on stdout."""
        execute(ctx, run, CompletionOptions(shell))
