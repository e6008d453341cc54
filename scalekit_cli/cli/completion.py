"""Shell completion, from Click's own machinery (`click.shell_completion`).

A TAB runs `sk` with `_SK_COMPLETE=<shell>_complete` (app.SkGroup.main): Click walks the
command tree and lists sub-commands, options, fixed choices and paths; the callbacks below,
given to Typer as `autocompletion=`, add the connector and tool names the environment knows.
Click has scripts for bash, zsh and fish; PowerShell's class is ours, registered with Click's
public `add_completion_class`.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

import click
from click.shell_completion import (
    CompletionItem,
    ShellComplete,
    add_completion_class,
    get_completion_class,
    split_arg_string,
)

# A TAB waits this long at most for names fetched from the environment; then it completes
# without them (a slow or unreachable environment must not freeze the shell).
FETCH_TIMEOUT = 1.5
SHELLS = ("bash", "zsh", "fish", "powershell")

_POWERSHELL_SOURCE = """\
Register-ArgumentCompleter -Native -CommandName %(prog_name)s -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $line = $commandAst.ToString()
    $end = [Math]::Min($cursorPosition - $commandAst.Extent.StartOffset, $line.Length)
    $env:COMP_WORDS = $line.Substring(0, $end)
    $env:COMP_CWORD = $wordToComplete
    $env:%(complete_var)s = "powershell_complete"
    $answers = %(prog_name)s 2>$null
    Remove-Item Env:%(complete_var)s, Env:COMP_WORDS, Env:COMP_CWORD
    foreach ($answer in $answers) {
        $kind, $value, $help = $answer -split "`t", 3
        if ($kind -eq "file" -or $kind -eq "dir") {
            [System.Management.Automation.CompletionCompleters]::CompleteFilename($value)
            continue
        }
        if (-not $help) { $help = $value }
        [System.Management.Automation.CompletionResult]::new(
            $value, $value, "ParameterValue", $help)
    }
}
"""


class PowerShellComplete(ShellComplete):
    """PowerShell (Windows PowerShell and pwsh): Click ships no class for it. The script hands
    the command line up to the cursor and the word being completed; each answer is one line,
    `type<TAB>value<TAB>help`."""

    name = "powershell"
    source_template = _POWERSHELL_SOURCE

    def get_completion_args(self) -> tuple[list[str], str]:
        words = split_arg_string(os.environ.get("COMP_WORDS", ""))
        incomplete = os.environ.get("COMP_CWORD", "")
        args = words[1:]
        if incomplete and args and args[-1] == incomplete:
            args.pop()
        return args, incomplete

    def format_completion(self, item: CompletionItem) -> str:
        return f"{item.type}\t{item.value}\t{item.help or ''}"


add_completion_class(PowerShellComplete)


def script(shell: str, command: click.Command) -> str:
    """The completion script for `shell`, which calls `sk` back on each TAB."""
    from .app import COMPLETE_VARIABLE

    completion_class = get_completion_class(shell)
    if completion_class is None:
        raise ValueError(shell)
    return completion_class(command, {}, "sk", COMPLETE_VARIABLE).source()


def choices(values: Iterable[str]) -> Callable[[str], list[str]]:
    """A completer of fixed values (for options that check their value themselves)."""
    listed = tuple(values)

    def complete(incomplete: str) -> list[str]:
        return [value for value in listed if value.startswith(incomplete)]

    return complete


def _fetch(ctx: click.Context, names: Callable[[Any], Iterable[str]]) -> list[str]:
    """Names read from the environment of this command line (its --env-url, --profile,
    --sandbox, …), or none when it cannot answer within FETCH_TIMEOUT. Nothing is written:
    the runtime's output goes to a buffer that is thrown away, so no warning, trace or
    secret reaches the shell."""
    from ..output import Output
    from ..runtime import Runtime
    from .global_options import root_values

    flags = root_values(ctx).flags()
    found: list[str] = []

    def fetch() -> None:
        sink = io.StringIO()
        out = Output(
            stdout=sink,
            stderr=sink,
            stdin=io.StringIO(),
            stdout_tty=False,
            stderr_tty=False,
            stdin_tty=False,
            color=False,
        )
        runtime = Runtime(out=out, flags=flags)
        try:
            found.extend(sorted(set(names(runtime))))
        except Exception:
            found.clear()
        finally:
            with contextlib.suppress(Exception):
                runtime.close()

    worker = threading.Thread(target=fetch, daemon=True)
    worker.start()
    worker.join(FETCH_TIMEOUT)
    return [] if worker.is_alive() else list(found)


def _connector_names(runtime: Any) -> Iterable[str]:
    from ..commands.known_names import known_connectors

    return known_connectors(runtime, None)


def _tool_names(runtime: Any) -> Iterable[str]:
    return (tool.name for tool in runtime.scalekit().iter_tools())


def complete_connector(ctx: click.Context, incomplete: str) -> list[str]:
    return [name for name in _fetch(ctx, _connector_names) if name.startswith(incomplete)]


def complete_tool(ctx: click.Context, incomplete: str) -> list[str]:
    return [name for name in _fetch(ctx, _tool_names) if name.startswith(incomplete)]


def complete_data(incomplete: str) -> list[str]:
    """`-d @FILE` reads the body from a file: after an `@`, the paths that start so."""
    if not incomplete.startswith("@"):
        return ["@"] if not incomplete else []
    typed = os.path.expanduser(incomplete[1:])
    folder, start = os.path.split(typed)
    try:
        entries = sorted(os.scandir(folder or "."), key=lambda entry: entry.name)
    except OSError:
        return []
    found = []
    for entry in entries:
        if entry.name.startswith(start) and (start.startswith(".") or entry.name[:1] != "."):
            suffix = "/" if entry.is_dir() else ""
            found.append("@" + os.path.join(folder, entry.name) + suffix)
    return found


def complete_client(incomplete: str) -> list[str]:
    """The agent hosts `sk mcp install` knows."""
    from ..mcp.install import CLIENTS

    return [name for name in CLIENTS if name.startswith(incomplete)]
