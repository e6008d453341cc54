"""`sk mcp install CLIENT --user ID` and `sk mcp uninstall CLIENT` — put `sk mcp serve` into
an agent host's MCP configuration (Claude Code, Claude Desktop, Cursor, VS Code), or take it
out again. The file editing lives in `scalekit_cli/mcp/install.py`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import click
import typer

from ..cli.commands import SkCommand
from ..cli.completion import complete_client
from ..errors import CliError, ExitCode
from ..output import printable
from ..runtime import Runtime
from ._common import (
    DebugOption,
    JsonOption,
    UserOption,
    VerboseOption,
    execute,
    validate_connector,
    validate_identifier,
)

if TYPE_CHECKING:
    from ..mcp.install import Change, Client, Credentials

CLIENT_HELP = "claude-code, claude-desktop, cursor or vscode."


@dataclass
class InstallOptions:
    client: str
    user: str
    connectors: list[str] = field(default_factory=list)
    name: str = "scalekit"
    dry_run: bool = False
    workspace: Path | None = None
    json: bool = False


@dataclass
class UninstallOptions:
    client: str
    name: str = "scalekit"
    dry_run: bool = False
    workspace: Path | None = None
    json: bool = False


def _environ(runtime: Runtime) -> Mapping[str, str]:
    return os.environ if runtime.environ is None else runtime.environ


def _show_diff(runtime: Runtime, change: Change, client: Client, name: str) -> None:
    from ..mcp.install import redacted_diff, unified_diff

    # The other servers' secrets are masked from the parsed file; --debug shows it as it is.
    diff = unified_diff(change) if runtime.out.debug else redacted_diff(change, client, name)
    for line in diff.splitlines():
        runtime.out.result(printable(line))


def _check_workspace(workspace: Path | None) -> None:
    """A workspace is a folder that exists: a misspelt one is not created to hold a file
    VS Code would never read."""
    if workspace is not None and not workspace.is_dir():
        raise CliError(
            f"--workspace {printable(str(workspace))} is not an existing folder", ExitCode.USAGE
        )


def _warn_about_credentials(runtime: Runtime, client: Client, credentials: Credentials) -> None:
    """The same words with --dry-run as for the real run: what the entry depends on."""
    if credentials.kind != "environment":
        return
    unseen = (
        f" — {client.title} is started from the desktop and does not see the variables "
        "of your shell"
        if client.desktop
        else ""
    )
    runtime.out.warn(
        f"{client.title} must start sk with SCALEKIT_ENV_URL, SCALEKIT_CLIENT_ID and "
        f"SCALEKIT_CLIENT_SECRET in its environment (nothing secret was written){unseen}; "
        "or run sk login and install again to use a stored profile"
    )


def run_install(options: InstallOptions, runtime: Runtime) -> int:
    from ..mcp import install

    client = install.client_named(options.client)
    name = install.validate_name(options.name)
    user = validate_identifier(options.user)
    _check_workspace(options.workspace)
    connectors = [validate_connector(connector) for connector in options.connectors]
    flags, environ = runtime.flags, _environ(runtime)
    credentials = install.credential_reference(
        sandbox=flags.sandbox, profile=flags.profile, environ=environ, desktop=client.desktop
    )
    entry = install.server_entry(client, install.sk_command(), credentials, user, connectors)
    location = install.config_location(client, environ, workspace=options.workspace)
    config = install.read_config(location)
    change = install.plan_install(config, client, name, entry)
    out = runtime.out
    if options.dry_run:
        _show_diff(runtime, change, client, name)
        if not change.changed:
            out.info(f"{location.path} already holds this {name!r} entry; nothing to change")
        _warn_about_credentials(runtime, client, credentials)
        return ExitCode.OK
    backup = install.apply(change) if change.changed else None
    if options.json:
        out.json(
            {
                "client": client.name,
                "name": name,
                "path": str(location.path),
                "changed": change.changed,
                "backup": str(backup) if backup else None,
                "entry": entry,
            }
        )
    if not change.changed:
        out.info(f"{location.path} already holds this {name!r} entry; nothing changed")
    else:
        verb = "Updated" if change.replaced else "Added"
        out.success(f"{verb} MCP server {name!r} in {location.path}")
        if backup is not None:
            out.info(f"previous file kept as {backup}")
    _warn_about_credentials(runtime, client, credentials)
    if client.name == "claude-code":
        out.info(f"the same as: {install.claude_add_command(name, entry)}")
    out.info(f"restart {client.title} to load it")
    return ExitCode.OK


def run_uninstall(options: UninstallOptions, runtime: Runtime) -> int:
    from ..mcp import install

    client = install.client_named(options.client)
    name = install.validate_name(options.name)
    _check_workspace(options.workspace)
    location = install.config_location(client, _environ(runtime), workspace=options.workspace)
    config = install.read_config(location)
    change = install.plan_uninstall(config, client, name)
    out = runtime.out
    if options.dry_run:
        _show_diff(runtime, change, client, name)
    elif change.changed:
        backup = install.apply(change)
        out.success(f"Removed MCP server {name!r} from {location.path}")
        if backup is not None:
            out.info(f"previous file kept as {backup}")
    if options.json and not options.dry_run:
        out.json(
            {
                "client": client.name,
                "name": name,
                "path": str(location.path),
                "removed": change.changed,
            }
        )
    if not change.changed:
        out.info(f"no MCP server {name!r} in {location.path}; nothing to remove")
    return ExitCode.OK


NameOption = Annotated[
    str, typer.Option("--name", help="The server's name in the client's file.", metavar="NAME")
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Print the change as a unified diff; write nothing.")
]
WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        help="vscode: the workspace folder whose .vscode/mcp.json to edit (default: here).",
        metavar="DIR",
        # Click's Path, not Typer's: Typer's completes nothing, Click's completes folders.
        click_type=click.Path(file_okay=False, path_type=Path),
    ),
]
ClientArgument = Annotated[
    str, typer.Argument(help=CLIENT_HELP, metavar="CLIENT", autocompletion=complete_client)
]


def register(mcp_app: typer.Typer) -> None:
    @mcp_app.command(
        "install",
        cls=SkCommand,
        epilog="""
            sk mcp install claude-code --user user_123
            sk mcp install vscode --user user_123 --workspace . --dry-run
        """,
    )
    def install_command(
        ctx: typer.Context,
        client: ClientArgument,
        user: UserOption,
        connector: Annotated[
            list[str] | None,
            typer.Option(
                "--connector",
                help="Serve only this connector's tools (repeatable).",
                metavar="NAME",
            ),
        ] = None,
        name: NameOption = "scalekit",
        dry_run: DryRunOption = False,
        workspace: WorkspaceOption = None,
        json_mode: JsonOption = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """Add `sk mcp serve` for a user to an agent host's MCP configuration."""
        options = InstallOptions(
            client, user, list(connector or []), name, dry_run, workspace, json_mode
        )
        execute(ctx, run_install, options, json_mode=json_mode, verbose=verbose, debug=debug)

    @mcp_app.command(
        "uninstall",
        cls=SkCommand,
        epilog="""
            sk mcp uninstall claude-code
            sk mcp uninstall cursor --dry-run
        """,
    )
    def uninstall_command(
        ctx: typer.Context,
        client: ClientArgument,
        name: NameOption = "scalekit",
        dry_run: DryRunOption = False,
        workspace: WorkspaceOption = None,
        json_mode: JsonOption = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """Remove the entry `sk mcp install` made (only that one) from a client's file."""
        options = UninstallOptions(client, name, dry_run, workspace, json_mode)
        execute(ctx, run_uninstall, options, json_mode=json_mode, verbose=verbose, debug=debug)
