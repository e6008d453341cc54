"""Tool-search mode of `sk mcp serve`: instead of every catalogue tool, the server lists two,
one that finds tools by what they do and one that runs a tool by name, so an agent reaches a
catalogue of hundreds of tools with two tools' worth of context.

The search asks the service (`POST /api/v1/tools:search`, ranked, with the served user's
readiness); an environment without it, or a search that fails, falls back to ranking the
catalogue the server holds by the query's words, with readiness from the user's accounts.
Either way only tools the server serves are found, each with its input schema.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..commands.tools import (
    CONNECTED,
    NEEDS_CONNECTION,
    NEEDS_REAUTH,
    SEARCH_LIMIT_MAX,
    SEARCH_QUERY_MAX,
    readiness,
)
from ..scalekit.errors import ApiError
from .toolbox import AUTHORIZE, LIST_CONNECTIONS, Outcome, ToolDefinition, ToolFailure

if TYPE_CHECKING:
    from .toolbox import Toolbox

SEARCH_TOOLS = "scalekit_search_tools"
RUN_TOOL = "scalekit_run_tool"
# How many tools a search returns unless the agent asks for a number (the service's default).
SEARCH_LIMIT_DEFAULT = 10
# The service's readiness of an account without a tools:search answer: the account status.
_STATUS_READINESS = {"ACTIVE": CONNECTED, "EXPIRED": NEEDS_REAUTH}
_READINESS = (CONNECTED, NEEDS_REAUTH, NEEDS_CONNECTION)  # best first


def meta_tools(connectors: tuple[str, ...]) -> list[ToolDefinition]:
    """The two tools tool-search mode lists; `connectors` is the server's --connector filter."""
    connector: dict[str, Any] = {
        "type": "string",
        "description": "Only this app's tools: its connection name, e.g. gmail, slack, "
        "googlecalendar.",
    }
    if connectors:
        connector["enum"] = list(connectors)
    search = ToolDefinition(
        SEARCH_TOOLS,
        "Find the tools of the user's apps (Gmail, Slack, Calendar, …) by what they should do. "
        "Answers the best matches first, each with its name, description, connector, input "
        f"schema and readiness for this user: '{CONNECTED}' (it runs now), "
        f"'{NEEDS_CONNECTION}' or '{NEEDS_REAUTH}' (running it asks the user to connect the "
        f"app first). Run a tool with {RUN_TOOL}.",
        {
            "type": "object",
            "properties": {
                "query": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": SEARCH_QUERY_MAX,
                    "description": "What the tool should do, in a few words, e.g. "
                    "'send an email' or 'list calendar events'.",
                },
                "connector": connector,
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": SEARCH_LIMIT_MAX,
                    "default": SEARCH_LIMIT_DEFAULT,
                    "description": f"At most this many tools ({SEARCH_LIMIT_DEFAULT} unless "
                    "given).",
                },
            },
            "required": ["query"],
            "additionalProperties": False,
        },
        hints=(("readOnlyHint", True), ("openWorldHint", False)),
    )
    run = ToolDefinition(
        RUN_TOOL,
        f"Run one tool {SEARCH_TOOLS} found, by its exact name, with arguments matching its "
        "input schema; answers what the tool answers. If its app is not connected yet, the "
        "answer is a link the user must open (or the user is asked to connect it), then the "
        f"tool runs. Also runs the built-ins {LIST_CONNECTIONS} (the user's accounts) and "
        f"{AUTHORIZE} (a new link to connect an app).",
        {
            "type": "object",
            "properties": {
                "name": {
                    "type": "string",
                    "minLength": 1,
                    "description": f"The tool's exact name, as {SEARCH_TOOLS} gave it, e.g. "
                    "gmail_fetch_mails.",
                },
                "arguments": {
                    "type": "object",
                    "default": {},
                    "description": "The tool's arguments, an object matching the "
                    f"input_schema {SEARCH_TOOLS} gave for it; {{}} when it takes none.",
                },
            },
            "required": ["name"],
            "additionalProperties": False,
        },
    )
    return [search, run]


def search(toolbox: Toolbox, arguments: dict[str, Any]) -> Outcome:
    """The served catalogue tools that match `arguments["query"]`, best first. Blocking."""
    query = arguments["query"].strip()
    if not query:
        raise ToolFailure("arguments.query: blank, it needs a word; nothing was executed")
    connector = arguments.get("connector")
    # JSON Schema's integer includes 2.0, which the schema check lets through.
    limit = int(arguments.get("limit") or SEARCH_LIMIT_DEFAULT)
    served = {
        tool.name: tool
        for tool in toolbox.tools()
        if tool.connector is not None and connector in (None, tool.connector)
    }
    if connector is not None and not served:
        raise ToolFailure(f"no tool of {connector!r} is served; nothing matches")
    try:
        # The service has no connector filter and ranks the whole environment: ask for as
        # many as it gives, and keep the served ones in its order.
        found = toolbox.client.search_tools(
            query, identifier=toolbox.identifier, top_k=SEARCH_LIMIT_MAX
        )
    except ApiError:
        ranked, source = _rank_locally(toolbox, served, query), "catalogue"
    else:
        # A name may come more than once (a tool of two connections): once, at its best
        # rank, with the best readiness any of its entries gives.
        best: dict[str, str] = {}
        for tool in found:
            if tool.name in served:
                ready = readiness(tool)
                best[tool.name] = min(best.get(tool.name, ready), ready, key=_READINESS.index)
        ranked = [(served[name], ready) for name, ready in best.items()]
        source = "service"
    return Outcome(
        {
            "query": query,
            "source": source,
            "tools": [_document(tool, ready) for tool, ready in ranked[:limit]],
        }
    )


def _rank_locally(
    toolbox: Toolbox, served: dict[str, ToolDefinition], query: str
) -> list[tuple[ToolDefinition, str]]:
    """The served tools by how many of the query's words begin a word of their name (which
    counts double) or description; readiness from the user's accounts' statuses."""
    wanted = [word for word in _words(query) if len(word) >= 3] or _words(query)
    scored = []
    for tool in served.values():
        in_name, elsewhere = _words(tool.name), _words(f"{tool.description} {tool.connector}")
        points = sum(
            2 if _begins(word, in_name) else 1 if _begins(word, elsewhere) else 0 for word in wanted
        )
        if points:
            scored.append((-points, tool.name, tool))
    if not scored:
        return []
    statuses = {
        account.connector: account.status
        for account in toolbox.client.iter_accounts(identifier=toolbox.identifier)
    }
    return [
        (tool, _STATUS_READINESS.get(statuses.get(tool.connector or "", ""), NEEDS_CONNECTION))
        for _, _, tool in sorted(scored)
    ]


def _words(text: str) -> list[str]:
    return [word for word in re.split(r"[^0-9a-z]+", text.casefold()) if word]


def _begins(word: str, words: list[str]) -> bool:
    return any(candidate.startswith(word) for candidate in words)


def _document(tool: ToolDefinition, ready: str) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": tool.name,
        "description": tool.description,
        "connector": tool.connector,
        "readiness": ready,
        "input_schema": tool.input_schema,
    }
    if tool.hints:
        document["annotations"] = dict(tool.hints)
    return document
