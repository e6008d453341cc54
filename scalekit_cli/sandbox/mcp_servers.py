"""MCP definitions (CreateMcp, GetMcp, ListMcp, DeleteMcp): the PREVIEW per-user MCP resource,
a set of tools per connection for one connected-account identifier.

Part of the engine (its store, connections and tool catalogue). The descriptors say what each
field is ("Connection name for the tool", "Authentication status of the tool", output-only
`id` and `url`); a mapping's `status` is read from the identifier's account on that connection
on every call, so it follows the account. The sandbox serves no MCP server, so `url` is left
out, and it issues no link tokens, so a `link_token` filter matches nothing.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from .errors import INVALID_ARGUMENT, NOT_FOUND, ApiError
from .mcp_configs import connection_tools
from .store import StoreSession

if TYPE_CHECKING:
    from .engine import SandboxEngine

KIND = "mcp"


def _not_found() -> ApiError:
    return ApiError(NOT_FOUND, "MCP not found", "MCP_NOT_FOUND")


class McpServers:
    def __init__(self, engine: SandboxEngine) -> None:
        self.engine = engine

    def _clean(self, mappings: list[dict[str, Any]]) -> list[dict[str, Any]]:
        clean = []
        for index, mapping in enumerate(mappings):
            name = mapping.get("connection_name", "")
            if self.engine.settings.connection(name) is None:
                raise ApiError(
                    INVALID_ARGUMENT,
                    f"mcp.tool_mappings[{index}].connection_name: no connection {name!r}",
                    "INVALID_CONNECTION",
                )
            tools = connection_tools(
                self.engine, name, mapping.get("tool_names", []), f"mcp.tool_mappings[{index}]"
            )
            clean.append({"connection_name": name, "tool_names": tools})
        return clean

    def _to_wire(self, session: StoreSession, mcp: dict[str, Any]) -> dict[str, Any]:
        mappings = []
        for mapping in mcp["tool_mappings"]:
            wire = dict(mapping)
            account = session.account_by_key(
                mapping["connection_name"], mcp["connected_account_identifier"]
            )
            if account is not None:
                wire["status"] = account.status
            mappings.append(wire)
        return {
            "id": mcp["id"],
            "tool_mappings": mappings,
            "connected_account_identifier": mcp["connected_account_identifier"],
        }

    def create(self, mcp: dict[str, Any]) -> dict[str, Any]:
        record = {
            "id": "res_" + str(secrets.randbelow(9 * 10**16) + 10**16),
            "tool_mappings": self._clean(mcp.get("tool_mappings", [])),
            "connected_account_identifier": mcp["connected_account_identifier"],
        }
        with self.engine.store.write() as session:
            session.put_document(KIND, record["id"], record)
            return {"mcp": self._to_wire(session, record)}

    def get(self, mcp_id: str) -> dict[str, Any]:
        with self.engine.store.read() as session:
            record = session.document(KIND, mcp_id)
            if record is None:
                raise _not_found()
            return {"mcp": self._to_wire(session, record)}

    def list(self, identifier: str, link_token: str) -> dict[str, Any]:
        with self.engine.store.read() as session:
            return {
                "mcps": [
                    self._to_wire(session, record)
                    for record in session.documents(KIND)
                    if not link_token
                    and (not identifier or record["connected_account_identifier"] == identifier)
                ]
            }

    def delete(self, mcp_id: str) -> dict[str, Any]:
        with self.engine.store.write() as session:
            if session.document(KIND, mcp_id) is None:
                raise _not_found()
            session.delete_document(KIND, mcp_id)
        return {}
