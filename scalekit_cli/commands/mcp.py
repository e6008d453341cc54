"""`sk mcp …` — Scalekit tools for AI agents over the Model Context Protocol.

The group only: each sub-command registers itself from its own module.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from . import mcp_install

    mcp_app = typer.Typer(
        name="mcp",
        help="Serve Scalekit tools to AI agents over MCP, and install them into agent hosts.",
        no_args_is_help=True,
    )
    mcp_install.register(mcp_app)
    app.add_typer(mcp_app)
