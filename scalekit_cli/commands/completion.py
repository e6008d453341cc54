"""`sk completion bash|zsh|fish|powershell` — the shell completion script, from the package.

The scripts are static (generated from the command tree by `make completions`, so a TAB
starts no Python) and ship as package data: what is printed matches the installed `sk`.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Annotated

import typer

from ..errors import CliError, ExitCode
from ..runtime import Runtime
from ._common import execute

# shell → (file in scalekit_cli/completions, how to install it)
SCRIPTS = {
    "bash": ("sk.bash", 'eval "$(sk completion bash)"  # in ~/.bashrc'),
    "zsh": ("_sk", "sk completion zsh > ~/.zsh/completions/_sk  # a directory on $fpath"),
    "fish": ("sk.fish", "sk completion fish > ~/.config/fish/completions/sk.fish"),
    "powershell": ("sk.ps1", "sk completion powershell | Out-String | Invoke-Expression"),
}


@dataclass
class CompletionOptions:
    shell: str


def script(shell: str) -> str:
    name, _ = SCRIPTS[shell]
    return resources.files("scalekit_cli.completions").joinpath(name).read_text(encoding="utf-8")


def run(options: CompletionOptions, runtime: Runtime) -> int:
    shell = options.shell.lower()
    if shell not in SCRIPTS:
        raise CliError(
            f"no completion for {options.shell!r}: use {', '.join(SCRIPTS)}", ExitCode.USAGE
        )
    runtime.out.stdout.write(script(shell))
    runtime.out.stdout.flush()
    if runtime.out.stderr_tty:
        runtime.out.info(f"install: {SCRIPTS[shell][1]}")
    return ExitCode.OK


def register(app: typer.Typer) -> None:
    @app.command("completion")
    def completion_command(
        ctx: typer.Context,
        shell: Annotated[
            str, typer.Argument(help="bash, zsh, fish or powershell.", metavar="SHELL")
        ],
    ) -> None:
        """Print the completion script for SHELL on stdout (install hint on stderr)."""
        execute(ctx, run, CompletionOptions(shell))
