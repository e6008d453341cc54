"""The agents' face of `sk`: an MCP server for one user of the environment (`sk mcp serve`).

`toolbox` holds what the server offers and does — the Scalekit tool catalogue, the built-in
tools, the calls — on the wire library, with no MCP SDK; `server` translates that to MCP on
the official SDK (imported only by `sk mcp`, never by the rest of `sk`).
"""
