"""MCP instances: one MCP configuration put to work for one user (ensure, get, list, update,
delete, and the auth state of its connections).

Part of the engine (its store and clock, and `McpConfigs` for the configuration behind each
instance); the operations layer calls it with checked payloads. Behaviour follows the
descriptors' descriptions of the "MCP Instances" RPCs: ensure "returns an existing MCP instance
for the given configuration, name, and user identifier or creates one if none exists"; update
"changing the config name rebuilds the instance mappings from the new configuration"; deleting
a configuration deletes its instances. An instance's connected-account fields are read from the
accounts on every call, so they follow the accounts' state. Choices where the descriptions are
silent are in docs/sandbox.md ("MCP instances").
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from .clock import rfc3339
from .errors import NOT_FOUND, ApiError
from .paging import page
from .store import McpConfigRecord, StoreSession

if TYPE_CHECKING:
    from .engine import SandboxEngine

KIND = "mcp_instance"
DEFAULT_PAGE_SIZE = 10


def _not_found() -> ApiError:
    return ApiError(NOT_FOUND, "MCP instance not found", "MCP_INSTANCE_NOT_FOUND")


def _config_not_found(name: str) -> ApiError:
    return ApiError(NOT_FOUND, f"no MCP configuration named {name!r}", "MCP_CONFIG_NOT_FOUND")


class McpInstances:
    def __init__(self, engine: SandboxEngine) -> None:
        self.engine = engine

    def _config_named(self, session: StoreSession, name: str) -> McpConfigRecord:
        config = session.mcp_config_named(name)
        if config is None:
            raise _config_not_found(name)
        return config

    def _get(self, session: StoreSession, instance_id: str) -> dict[str, Any]:
        instance = session.document(KIND, instance_id)
        if instance is None:
            raise _not_found()
        return instance

    def to_wire(self, session: StoreSession, instance: dict[str, Any]) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "id": instance["id"],
            "name": instance["name"],
            "user_identifier": instance["user_identifier"],
        }
        config = session.mcp_config(instance["config_id"])
        if config is not None:
            wire["config"] = self.engine.mcp.to_wire(config)
            # Each mapping carries this user's account on that connection, as it is now.
            for mapping in wire["config"]["connection_tool_mappings"]:
                account = session.account_by_key(
                    mapping["connection_name"], instance["user_identifier"]
                )
                if account is not None:
                    mapping["connected_account_id"] = account.id
                    mapping["connected_account_status"] = account.status
        wire["updated_at"] = rfc3339(instance["updated_at"])
        # url: the sandbox serves no MCP server (as McpConfig.mcp_server_url), so none.
        return wire

    def ensure(self, name: str, config_name: str, user_identifier: str) -> dict[str, Any]:
        with self.engine.store.write() as session:
            config = self._config_named(session, config_name)
            # Without a name the instance is named after its configuration.
            name = name or config.name
            for instance in session.documents(KIND):
                if (
                    instance["config_id"] == config.id
                    and instance["user_identifier"] == user_identifier
                    and instance["name"] == name
                ):
                    return {"instance": self.to_wire(session, instance)}
            instance = {
                "id": "inst_" + str(secrets.randbelow(9 * 10**16) + 10**16),
                "name": name,
                "user_identifier": user_identifier,
                "config_id": config.id,
                "updated_at": self.engine.now_in(session),
            }
            session.put_document(KIND, instance["id"], instance)
            return {"instance": self.to_wire(session, instance)}

    def get(self, instance_id: str) -> dict[str, Any]:
        with self.engine.store.read() as session:
            return {"instance": self.to_wire(session, self._get(session, instance_id))}

    def update(self, instance_id: str, name: str, config_name: str) -> dict[str, Any]:
        with self.engine.store.write() as session:
            instance = self._get(session, instance_id)
            # Only what is sent changes (the SDK sends a field only when it is given).
            if config_name:
                instance["config_id"] = self._config_named(session, config_name).id
            if name:
                instance["name"] = name
            instance["updated_at"] = self.engine.now_in(session)
            session.put_document(KIND, instance_id, instance)
            return {"instance": self.to_wire(session, instance)}

    def delete(self, instance_id: str) -> dict[str, Any]:
        with self.engine.store.write() as session:
            self._get(session, instance_id)
            session.delete_document(KIND, instance_id)
        return {}

    def delete_for_config(self, session: StoreSession, config_id: str) -> None:
        for instance in session.documents(KIND):
            if instance["config_id"] == config_id:
                session.delete_document(KIND, instance["id"])

    def list(
        self,
        *,
        where: dict[str, Any],
        search: str = "",
        page_size: int = 0,
        page_token: str = "",
    ) -> dict[str, Any]:
        needle = search.casefold()
        with self.engine.store.read() as session:
            config_id = ""
            if where.get("config_name"):
                config = session.mcp_config_named(where["config_name"])
                if config is None:
                    return {"instances": [], "total_size": 0}
                config_id = config.id
            matching = [
                instance
                for instance in session.documents(KIND)
                if (not where.get("id") or instance["id"] == where["id"])
                and (not where.get("name") or instance["name"] == where["name"])
                and (not config_id or instance["config_id"] == config_id)
                and (
                    not where.get("user_identifier")
                    or instance["user_identifier"] == where["user_identifier"]
                )
                # "Case-insensitive look-ahead search across instance name and user identifier"
                and (
                    not needle
                    or instance["name"].casefold().startswith(needle)
                    or instance["user_identifier"].casefold().startswith(needle)
                )
            ]
            return page(
                matching,
                "instances",
                page_size or DEFAULT_PAGE_SIZE,
                page_token,
                lambda instance: self.to_wire(session, instance),
            )

    def auth_state(
        self, instance_id: str, include_auth_links: bool, base_url: str
    ) -> dict[str, Any]:
        """Per connection of the instance's configuration: the user's account as it is now;
        with `include_auth_links`, a fresh magic link each (accounts created when missing, as
        ListMcpConnectedAccounts does with `include_auth_link`)."""
        with self.engine.store.read() as session:
            instance = self._get(session, instance_id)
        states = self.engine.mcp.connected_accounts(
            instance["config_id"], instance["user_identifier"], include_auth_links, base_url
        )
        return {"connections": states["connected_accounts"]}
