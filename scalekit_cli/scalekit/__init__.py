"""A plain client library for Scalekit AgentKit's REST API (and Gmail), on the standard library.

No Typer, no rich: usable from any Python program.
"""
