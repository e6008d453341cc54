"""`sk mcp …` — AI agents use the user's connected apps through `sk`.

`sk mcp serve --user ID` runs an MCP server for one user of the environment: its tools are the
Scalekit tool catalogue (plus a few built-in ones), each call runs inside Scalekit, and an app
that is not connected yet is connected inside the agent's conversation. The MCP SDK is an
extra (`scalekit-cli[mcp]`), imported only here, and only once the command runs.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from dataclasses import dataclass, field
from typing import Annotated

import typer

from ..cli.commands import SkCommand, SkSubGroup
from ..cli.completion import choices
from ..errors import CliError, ExitCode, shell_word
from ..mcp import TOOL_SEARCH_THRESHOLD
from ..runtime import Runtime
from . import mcp_install
from ._common import (
    DebugOption,
    UserOption,
    VerboseOption,
    execute,
    positive_number,
    validate_connector,
    validate_identifier,
)

TRANSPORTS = ("stdio", "http")


@dataclass
class McpServeOptions:
    identifier: str
    connectors: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    transport: str = "stdio"
    host: str = "127.0.0.1"
    port: int = 8000
    allow_remote: bool = False
    allowed_hosts: list[str] = field(default_factory=list)
    allow_proxy: bool = False
    verify_user: bool = False
    connect_timeout: float = 300.0
    interval: float = 2.0
    # Neither: tool search above the catalogue size threshold (mcp/__init__.py).
    tool_search: bool = False
    no_tool_search: bool = False


def run_serve(options: McpServeOptions, runtime: Runtime) -> int:
    validate_identifier(options.identifier)
    for connector in options.connectors:
        validate_connector(connector)
    for tool in options.tools:
        if not tool.strip() or any(c.isspace() or not c.isprintable() for c in tool):
            raise CliError(f"--tool {tool!r} is not a tool name", ExitCode.USAGE)
    if options.transport not in TRANSPORTS:
        raise CliError(
            f"--transport must be one of {', '.join(TRANSPORTS)}, not {options.transport!r}",
            ExitCode.USAGE,
        )
    if not 0 <= options.port <= 65535:
        raise CliError("--port must be between 0 and 65535", ExitCode.USAGE)
    if options.tool_search and options.no_tool_search:
        raise CliError("--tool-search and --no-tool-search contradict each other", ExitCode.USAGE)
    loopback = check_bind(options)
    positive_number(options.connect_timeout, "--connect-timeout")
    positive_number(options.interval, "--interval")
    import importlib.util

    if importlib.util.find_spec("mcp") is None:
        from ..install_hint import install_command

        hint = install_command("mcp")
        raise CliError(f"sk mcp serve needs the MCP SDK: {hint}", ExitCode.CONFIG)

    from ..mcp.server import McpServer, ServeSettings, capture_logs
    from ..mcp.toolbox import Toolbox

    out = runtime.out
    if options.transport == "stdio":
        # stdout carries the protocol and nothing else.
        out.stdout = out.stderr
    client = runtime.scalekit()
    sandbox = runtime.sandbox
    if sandbox is not None:
        # The links the server hands out must open in a real browser.
        sandbox.start_server()
    toolbox = Toolbox(
        client,
        options.identifier,
        connectors=tuple(dict.fromkeys(options.connectors)),
        tool_names=tuple(dict.fromkeys(options.tools)),
        allow_proxy=options.allow_proxy,
        verify_user=options.verify_user,
        notify=out.warn,
    )
    toolbox.refresh()
    capture_logs(out, out.secrets)
    server = McpServer(
        toolbox,
        out,
        out.secrets,
        ServeSettings(
            transport=options.transport,
            host=options.host,
            port=options.port,
            allowed_hosts=tuple(dict.fromkeys(options.allowed_hosts)),
            loopback=loopback,
            connect_timeout=options.connect_timeout,
            interval=options.interval,
            tool_search=True if options.tool_search else False if options.no_tool_search else None,
        ),
    )
    if options.transport == "stdio" and _stdin_is_a_terminal():
        # Someone ran it by hand: it looks hung, so say what it waits for and what to run.
        user = shell_word(options.identifier)
        out.info(
            "sk mcp serve waits for an MCP client on stdin; an agent host starts it itself: "
            f"run sk mcp install CLIENT --user {user} (claude-code, claude-desktop, cursor or "
            "vscode), then restart that host. Ctrl-C stops."
        )
    try:
        server.run()
    finally:
        toolbox.close()
    return ExitCode.OK


def _stdin_is_a_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):  # closed or replaced stdin
        return False


def is_loopback(host: str) -> bool:
    """Whether every address `host` names is a loopback one (127.0.0.0/8, ::1)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise CliError(
            f"--host {host!r} is not an address this machine has", ExitCode.USAGE
        ) from None
    return all(ipaddress.ip_address(str(entry[4][0]).split("%")[0]).is_loopback for entry in found)


def check_bind(options: McpServeOptions) -> bool:
    """The HTTP transport listens on loopback unless --allow-remote says otherwise, and then
    only for the --allowed-host names; True when the address is loopback."""
    if options.allowed_hosts and options.transport != "http":
        raise CliError("--allowed-host needs --transport http", ExitCode.USAGE)
    for name in options.allowed_hosts:
        if not name or any(c in name for c in "/@?#:, ") or not name.isprintable():
            raise CliError(
                f"--allowed-host {name!r} must be a host name or address, without port",
                ExitCode.USAGE,
            )
    if options.transport != "http":
        return True
    loopback = is_loopback(options.host)
    if loopback:
        return True
    if not options.allow_remote:
        raise CliError(
            f"--host {options.host} is reachable from other machines: anyone who reaches it "
            "could use the user's connected apps; add --allow-remote and --allowed-host NAME "
            "to expose it on purpose",
            ExitCode.USAGE,
        )
    wildcard = _is_ip(options.host) and ipaddress.ip_address(options.host).is_unspecified
    if wildcard and not options.allowed_hosts:
        raise CliError(
            f"--host {options.host} listens on every address: name the host clients "
            "use with --allowed-host NAME",
            ExitCode.USAGE,
        )
    return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


mcp_app = typer.Typer(
    name="mcp",
    epilog="""
        sk mcp serve --user user_123
        sk mcp install claude-code --user user_123
    """,
    cls=SkSubGroup,
    help="Give AI agents the user's connected apps over MCP, and install sk into agent hosts.",
    no_args_is_help=True,
)


@mcp_app.command(
    "serve",
    cls=SkCommand,
    epilog="""
        sk mcp serve --user user_123
        sk mcp serve --user user_123 --connector gmail --transport http --port 8765
        sk mcp serve --user user_123 --tool-search
    """,
)
def serve_command(
    ctx: typer.Context,
    user: UserOption,
    connector: Annotated[
        list[str] | None,
        typer.Option(
            "--connector",
            help="Serve this connection's tools (repeatable; default: all).",
            metavar="NAME",
        ),
    ] = None,
    tool: Annotated[
        list[str] | None,
        typer.Option("--tool", help="Serve this tool (repeatable).", metavar="NAME"),
    ] = None,
    transport: Annotated[
        str,
        typer.Option(
            "--transport",
            help="stdio, or http (streamable HTTP).",
            metavar="NAME",
            autocompletion=choices(TRANSPORTS),
        ),
    ] = "stdio",
    host: Annotated[
        str, typer.Option("--host", help="Address to bind with --transport http.", metavar="ADDR")
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option("--port", help="Port to bind with --transport http (0: any).", metavar="N"),
    ] = 8000,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="With a --host other machines reach: expose the user's connected apps to "
            "anyone who can reach ADDR.",
        ),
    ] = False,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="A Host name clients use to reach the HTTP server (repeatable); requests "
            "naming any other host are refused.",
            metavar="NAME",
        ),
    ] = None,
    allow_proxy: Annotated[
        bool,
        typer.Option("--allow-proxy", help="Add scalekit_request: raw API calls via /proxy."),
    ] = False,
    verify_user: Annotated[
        bool,
        typer.Option(
            "--verify-user",
            help="Complete custom user verification through a loopback listener.",
        ),
    ] = False,
    connect_timeout: Annotated[
        float,
        typer.Option(
            "--connect-timeout",
            help="Seconds a call waits for the user to approve.",
            metavar="SECONDS",
        ),
    ] = 300.0,
    interval: Annotated[
        float,
        typer.Option(
            "--interval", help="Seconds between status checks while waiting.", metavar="SECONDS"
        ),
    ] = 2.0,
    tool_search: Annotated[
        bool,
        typer.Option(
            "--tool-search",
            help="List a search tool and a run tool instead of every tool (without either "
            f"flag: when more than {TOOL_SEARCH_THRESHOLD} tools are served).",
        ),
    ] = False,
    no_tool_search: Annotated[
        bool,
        typer.Option("--no-tool-search", help="List every tool, however many."),
    ] = False,
    debug: DebugOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Serve the user's Scalekit tools to an AI agent over MCP (stdio or streamable HTTP)."""
    options = McpServeOptions(
        identifier=user,
        connectors=list(connector or []),
        tools=list(tool or []),
        transport=transport,
        host=host,
        port=port,
        allow_remote=allow_remote,
        allowed_hosts=list(allowed_host or []),
        allow_proxy=allow_proxy,
        verify_user=verify_user,
        connect_timeout=connect_timeout,
        interval=interval,
        tool_search=tool_search,
        no_tool_search=no_tool_search,
    )
    execute(ctx, run_serve, options, verbose=verbose, debug=debug)


def register(app: typer.Typer) -> None:
    mcp_install.register(mcp_app)  # `sk mcp install` / `uninstall`: their own module
    app.add_typer(mcp_app)
