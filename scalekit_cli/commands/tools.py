"""`sk tools list`, `sk tools search QUERY` and `sk tools show TOOL` — the tool catalogue.

`list` filters on the server (`filter.connector`, `filter.provider`, `filter.query`) and reads
every page of `GET /api/v1/tools`; with `--user` it lists what that user can run now
(`GET /api/v1/tools/scoped`). `search` ranks the catalogue by a query on the service
(`POST /api/v1/tools:search`), with each tool's readiness for `--user`. `show` asks for one
name (`filter.tool_name`) and prints its input schema, the shape `sk exec-tool -d` must have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..cli.commands import SkCommand, SkSubGroup
from ..cli.completion import complete_tool
from ..errors import CliError, ExitCode
from ..runtime import Runtime
from ..scalekit.errors import ApiError, is_unsupported
from ..tables import Column
from ._common import (
    DebugOption,
    JsonOption,
    VerboseOption,
    connector_name,
    execute,
    user_id,
    validate_connector,
)
from .exec_tool import TOOL_NAME_MAX

if TYPE_CHECKING:
    from ..scalekit.models import SearchedTool, Tool

TABLE_HEADERS = (Column("Name"), Column("Description", shrink=20))
SEARCH_HEADERS = (Column("Name"), Column("Provider"), Column("Description", shrink=20))
READY_HEADER = Column("Ready")
# tools:search's query is 1-256 characters and top_k is capped at 50 (its field docs).
SEARCH_QUERY_MAX = 256
SEARCH_LIMIT_MAX = 50
# What the Ready column says, from the service's readiness of the user's accounts.
CONNECTED = "connected"
NEEDS_CONNECTION = "needs connection"
NEEDS_REAUTH = "needs reauth"


@dataclass
class ListOptions:
    connector: str | None = None
    provider: str | None = None
    query: str | None = None
    json: bool = False
    user: str | None = None


@dataclass
class SearchOptions:
    query: str
    connector: str | None = None
    user: str | None = None
    limit: int | None = None
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
    if options.user is not None:
        tools = _scoped(options, options.user, runtime)
    else:
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
        if options.user is not None and not _filtered(options):
            out.info(
                f"{options.user!r} can run no tool yet; connect an account first "
                f"(see: {runtime.sk_prefix()} connections list --user {options.user})"
            )
        else:
            out.info("no tools match" if _filtered(options) else "the catalogue holds no tools")
    return ExitCode.OK


def _scoped(options: ListOptions, user: str, runtime: Runtime) -> list[Tool]:
    """The tools the user can run now; the service filters by connection, and the provider
    and text filters apply as `tools list` applies them on the server (case aside)."""
    if options.connector:
        names = [options.connector]
    else:
        # The service requires a filter, and a query string cannot carry an empty one:
        # every connection the environment has, instead.
        from .known_names import known_connectors

        names = sorted(known_connectors(runtime, user))
        if not names:
            return []
    tools = runtime.scalekit().iter_scoped_tools(user, connection_names=names)
    provider = (options.provider or "").casefold()
    text = (options.query or "").casefold()
    return [
        tool
        for tool in tools
        if (not provider or tool.provider.casefold() == provider)
        and (not text or text in f"{tool.name} {tool.description}".casefold())
    ]


def search_document(tool: SearchedTool, with_user: bool) -> dict[str, Any]:
    """The stable JSON shape of one search result (`sk tools search --json` is an array)."""
    document: dict[str, Any] = {
        "name": tool.name,
        "description": tool.description or None,
        "provider": tool.provider or None,
        "score": tool.score,
    }
    if with_user:
        document["ready"] = readiness(tool)
        document["accounts"] = [
            {
                "connection": c.connection_name,
                "id": c.connected_account_id or None,
                "readiness": c.readiness_state or None,
            }
            for c in tool.connections
        ]
    return document


def readiness(tool: SearchedTool) -> str:
    """Connected when one of the user's accounts can run it now; needs reauth when the
    user has an account but none usable and one only needs re-authorizing."""
    if any(c.ready for c in tool.connections):
        return CONNECTED
    if any(c.readiness_state == "TOOL_READINESS_STATE_NEEDS_REAUTH" for c in tool.connections):
        return NEEDS_REAUTH
    return NEEDS_CONNECTION


def run_search(options: SearchOptions, runtime: Runtime) -> int:
    query = options.query.strip()
    if not query:
        raise CliError("the query must not be empty", ExitCode.USAGE)
    if len(options.query) > SEARCH_QUERY_MAX:
        raise CliError(f"the query is longer than {SEARCH_QUERY_MAX} characters", ExitCode.USAGE)
    if options.connector is not None:
        validate_connector(options.connector)
    client = runtime.scalekit()
    limit = options.limit or None
    names: set[str] | None = None
    if options.connector is not None:
        names = {tool.name for tool in client.iter_tools(connector=options.connector)}
        if not names:
            # A connection with no tool is a name the environment does not know, or a
            # typo of one it does (exit 2, "did you mean").
            from .known_names import not_a_known_connector

            typo = not_a_known_connector(runtime, options.connector, options.user)
            if typo is not None:
                raise typo
    # The search has no connector filter: it ranks the whole catalogue, as many as it
    # gives, and the connector's tools are kept in that order.
    try:
        found = client.search_tools(
            query,
            identifier=options.user,
            top_k=SEARCH_LIMIT_MAX if names is not None else limit,
        )
    except ApiError as error:
        if not is_unsupported(error):
            raise
        raise CliError(
            "this environment does not search tools (it predates tools:search); "
            f"see: {runtime.sk_prefix()} tools list --query TEXT",
            ExitCode.FAILURE,
        ) from None
    if names is not None:
        found = [tool for tool in found if tool.name in names][:limit]
    out = runtime.out
    with_user = options.user is not None
    if options.json:
        out.json([search_document(tool, with_user) for tool in found])
        return ExitCode.OK
    if not found:
        out.info("no tools match")
        return ExitCode.OK
    headers = (*SEARCH_HEADERS, READY_HEADER) if with_user else SEARCH_HEADERS
    rows = []
    for tool in found:
        row = [tool.name, tool.provider, _one_line(tool.description)]
        if with_user:
            row.append(readiness(tool))
        rows.append(row)
    out.table(headers, rows)
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
            sk tools search "send a message" --user user_123
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
            sk tools list --user user_123
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
        user: Annotated[
            str | None,
            typer.Option(
                "--user",
                "-u",
                help="Only the tools this user can run now (their active accounts').",
                metavar="ID",
                parser=user_id,
            ),
        ] = None,
        json_mode: JsonOption = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """List tools (name and description); --json adds their input schemas."""
        options = ListOptions(connector, provider, query, json_mode, user)
        execute(ctx, run_list, options, json_mode=json_mode, verbose=verbose, debug=debug)

    @tools_app.command(
        "search",
        cls=SkCommand,
        epilog="""
            sk tools search "send a message"
            sk tools search email --user user_123
            sk tools search events --connector googlecalendar --limit 3 --json
        """,
    )
    def search_command(
        ctx: typer.Context,
        query: Annotated[
            str,
            typer.Argument(help="What the tool should do, in words.", metavar="QUERY"),
        ],
        connector: Annotated[
            str | None,
            typer.Option(
                "--connector",
                help="Only this connection's tools, e.g. gmail.",
                metavar="NAME",
                parser=connector_name,
            ),
        ] = None,
        user: Annotated[
            str | None,
            typer.Option(
                "--user",
                "-u",
                help="Show whether this user can run each tool now.",
                metavar="ID",
                parser=user_id,
            ),
        ] = None,
        limit: Annotated[
            int | None,
            typer.Option(
                "--limit",
                "-n",
                help=f"At most N tools (10 unless given, {SEARCH_LIMIT_MAX} at most).",
                metavar="N",
                min=1,
                max=SEARCH_LIMIT_MAX,
            ),
        ] = None,
        json_mode: JsonOption = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """Search the catalogue: tools ranked by how well they match QUERY."""
        options = SearchOptions(query, connector, user, limit, json_mode)
        execute(ctx, run_search, options, json_mode=json_mode, verbose=verbose, debug=debug)

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
