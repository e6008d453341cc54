"""`sk mcp`: Scalekit tools for AI agents over the Model Context Protocol."""
