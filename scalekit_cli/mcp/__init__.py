"""The agents' face of `sk`: an MCP server for one user of the environment (`sk mcp serve`).

`toolbox` holds what the server offers and does — the Scalekit tool catalogue, the built-in
tools, the calls — on the wire library, with no MCP SDK; `search` the tool-search mode's
two tools (one finds tools, one runs them) for large catalogues; `server` translates that to MCP on
the official SDK (imported only by `sk mcp`, never by the rest of `sk`).
"""

# Above this many tools, `sk mcp serve` switches to tool search unless told otherwise. An app
# brings 5 to 20 tools, so a user's handful of apps stays below it and is listed whole; a
# whole environment (dozens of connectors, hundreds of tools) is far above it. At a few
# hundred tokens per definition, 40 tools already take 10-20k tokens of every conversation,
# and a model picks worse among many similar tools than among the few a search returns.
TOOL_SEARCH_THRESHOLD = 40
