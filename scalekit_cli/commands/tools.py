"""`sk tools list` and `sk tools show TOOL` — the tool catalogue (`GET /api/v1/tools`).

`list` filters on the server (`filter.connector`, `filter.provider`, `filter.query`) and reads
every page; `show` asks for one name (`filter.tool_name`) and prints its input schema, the
shape `sk exec-tool -d` must have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..cli.commands import SkCommand, SkSubGroup
from ..cli.completion import complete_tool
from ..errors import CliError, ExitCode
from ..runtime import Runtime
from ..tables import Column
from ._common import (
    DebugOption,
    JsonOption,
    VerboseOption,
    connector_name,
    execute,
    validate_connector,
)
from .exec_tool import TOOL_NAME_MAX

if TYPE_CHECKING:
    from ..scalekit.models import Tool

TABLE_HEADERS = (Column("Name"), Column("Description", shrink=20))


@dataclass
class ListOptions:
    connector: str | None = None
    provider: str | None = None
    query: str | None = None
    json: bool = False


@dataclass
class ShowOptions:
    tool: str
    json: bool = False


def tool_document(tool: Tool) -> dict[str, Any]:
    """The stable JSON shape of one tool (`sk tools list --json` is an array of these)."""
    return {
        "name": tool.name,
        "description": tool.description or None,
        "provider": tool.provider or None,
        "input_schema": tool.input_schema,
    }


def run_list(options: ListOptions, runtime: Runtime) -> int:
    if options.connector is not None:
        validate_connector(options.connector)
    if options.provider is not None and not options.provider.strip():
        raise CliError("--provider must not be empty", ExitCode.USAGE)
    if options.query is not None and not options.query.strip():
        raise CliError("--query must not be empty", ExitCode.USAGE)
    out = runtime.out
    tools = list(
        runtime.scalekit().iter_tools(
            connector=options.connector, provider=options.provider, query=options.query
        )
    )
    if options.json:
        out.json([tool_document(tool) for tool in tools])
    elif tools:
        out.table(TABLE_HEADERS, [[tool.name, _one_line(tool.description)] for tool in tools])
    if not tools:
        if options.connector is not None:
            # Nothing for a name close to one the catalogue knows is a typo, not an empty
            # answer (exit 2, "did you mean"); looked up only when the list came back empty.
            from .known_names import not_a_known_connector

            typo = not_a_known_connector(runtime, options.connector, None, only_if_close=True)
            if typo is not None:
                raise typo
        out.info("no tools match" if _filtered(options) else "the catalogue holds no tools")
    return ExitCode.OK


def run_show(options: ShowOptions, runtime: Runtime) -> int:
    name = options.tool.strip()
    if not name or len(name) > TOOL_NAME_MAX or any(c.isspace() for c in name):
        raise CliError(f"{options.tool!r} is not a tool name", ExitCode.USAGE)
    out = runtime.out
    found = next(
        (t for t in runtime.scalekit().iter_tools(tool_names=[name]) if t.name == name), None
    )
    if found is None:
        # A name that names nothing is wrong input, like a mistyped option: exit 2.
        from .known_names import unknown_tool

        raise unknown_tool(runtime, name)
    if options.json:
        out.json(tool_document(found))
        return ExitCode.OK
    out.result(found.name + (f" ({found.provider})" if found.provider else ""))
    if found.description:
        out.result(found.description)
    out.result("")
    out.result("Input schema:")
    out.pretty_json(found.input_schema)
    return ExitCode.OK


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _filtered(options: ListOptions) -> bool:
    return any((options.connector, options.provider, options.query))


def register(app: typer.Typer) -> None:
    tools_app = typer.Typer(
        name="tools",
        epilog="""
            sk tools list --connector gmail
            sk tools show gmail_fetch_mails
        """,
        cls=SkSubGroup,
        help="Browse the tool catalogue (what exec-tool can run).",
        no_args_is_help=True,
    )

    @tools_app.command(
        "list",
        cls=SkCommand,
        epilog="""
            sk tools list
            sk tools list --connector gmail --json
            sk tools list -q calendar
        """,
    )
    def list_command(
        ctx: typer.Context,
        connector: Annotated[
            str | None,
            typer.Option(
                "--connector",
                help="Only this connection's tools, e.g. gmail.",
                metavar="NAME",
                parser=connector_name,
            ),
        ] = None,
        provider: Annotated[
            str | None,
            typer.Option(
                "--provider", help="Only this provider's tools, e.g. GOOGLE.", metavar="NAME"
            ),
        ] = None,
        query: Annotated[
            str | None,
            typer.Option(
                "--query",
                "-q",
                help="Only tools whose name or description has TEXT.",
                metavar="TEXT",
            ),
        ] = None,
        json_mode: JsonOption = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """List tools (name and description); --json adds their input schemas."""
        options = ListOptions(connector, provider, query, json_mode)
        execute(ctx, run_list, options, json_mode=json_mode, verbose=verbose, debug=debug)

    @tools_app.command(
        "show",
        cls=SkCommand,
        epilog="""
            sk tools show gmail_fetch_mails
            sk tools show gmail_fetch_mails --json
        """,
    )
    def show_command(
        ctx: typer.Context,
        tool: Annotated[
            str,
            typer.Argument(
                help="The tool's name, e.g. gmail_fetch_mails.",
                metavar="TOOL",
                autocompletion=complete_tool,
            ),
        ],
        json_mode: JsonOption = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """Show one tool: its description and input schema."""
        execute(
            ctx,
            run_show,
            ShowOptions(tool, json_mode),
            json_mode=json_mode,
            verbose=verbose,
            debug=debug,
        )

    app.add_typer(tools_app)
