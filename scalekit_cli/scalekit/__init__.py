"""A plain client library for Scalekit AgentKit's REST API (and Gmail), built on httpx.

No Typer, no rich: usable from any Python program.
"""
