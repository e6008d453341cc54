"""MCP configurations: named sets of connections and their tools, the connected accounts a
user holds for them, and session tokens (RS256 JWTs) that stand for that user.

Part of the engine (it shares its store, clock, connections and tool catalog); the
operations layer (operations.py) calls it with checked payloads. Behaviour follows the
OpenAPI document's descriptions of the McpService operations; where it is silent the choice
is in docs/sandbox.md ("Where the documents are silent").
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from .clock import rfc3339
from .errors import ALREADY_EXISTS, FAILED_PRECONDITION, INVALID_ARGUMENT, NOT_FOUND, ApiError
from .paging import page
from .signing import RsaKey, generate_key, sign_rs256
from .store import McpConfigRecord, StoreSession

if TYPE_CHECKING:
    from .engine import SandboxEngine

DEFAULT_CONFIG_PAGE_SIZE = 10
MAX_CONFIG_PAGE_SIZE = 30  # the document: "max 30" (and the field rule)
SESSION_TOKEN_DEFAULT_TTL = 3600  # the document: "Defaults to 1h when omitted"
SESSION_TOKEN_MIN_TTL, SESSION_TOKEN_MAX_TTL = 60, 86400  # "between 60s and 24h"
_SIGNING_KEY_META = "environment_signing_key"


def _not_found() -> ApiError:
    return ApiError(NOT_FOUND, "MCP configuration not found", "MCP_CONFIG_NOT_FOUND")


def parse_duration(text: str) -> float:
    """A protobuf JSON Duration ("3600s", "1.5s"); the rule table has checked its shape."""
    return float(text[:-1])


def connection_tools(engine: SandboxEngine, name: str, tools: list[str], where: str) -> list[str]:
    """`tools` without repeats, once each is one of connection `name`'s tools (else 400
    INVALID_TOOL naming `where`, the mapping's place in the request)."""
    known = {tool.name for tool in engine.tools if tool.connector == name}
    unique = list(dict.fromkeys(tools))
    for tool in unique:
        if tool not in known:
            raise ApiError(
                INVALID_ARGUMENT, f"{where}.tools: {name!r} has no tool {tool!r}", "INVALID_TOOL"
            )
    return unique


class McpConfigs:
    def __init__(self, engine: SandboxEngine) -> None:
        self.engine = engine
        self._key: RsaKey | None = None

    # --- wire shapes ------------------------------------------------------------------------

    def _mappings_to_wire(self, config: McpConfigRecord) -> list[dict[str, Any]]:
        wire = []
        for mapping in config.mappings:
            connection = self.engine.settings.connection(mapping["connection_name"])
            entry: dict[str, Any] = {"connection_name": mapping["connection_name"]}
            if connection is not None:
                entry["connection_id"] = connection.connection_id
                entry["provider"] = connection.provider
            entry["tools"] = list(mapping.get("tools", []))
            wire.append(entry)
        return wire

    def to_wire(self, config: McpConfigRecord) -> dict[str, Any]:
        wire: dict[str, Any] = {"id": config.id, "name": config.name}
        if config.description:
            wire["description"] = config.description
        wire["connection_tool_mappings"] = self._mappings_to_wire(config)
        # mcp_server_url: "Empty when the MCP config server URL feature is not enabled for
        # this environment" — the sandbox serves no MCP server, so it is left out.
        return wire

    def _clean_mappings(self, mappings: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Only what the caller may set (connection_name, tools); every connection must be
        configured and every tool must be one of its tools (the document's 400: "invalid
        connection/tool mappings")."""
        clean: list[dict[str, Any]] = []
        seen: set[str] = set()
        for index, mapping in enumerate(mappings):
            name = mapping.get("connection_name", "")
            connection = self.engine.settings.connection(name)
            if connection is None:
                raise ApiError(
                    INVALID_ARGUMENT,
                    f"connection_tool_mappings[{index}].connection_name: no connection {name!r}",
                    "INVALID_CONNECTION",
                )
            if name in seen:
                raise ApiError(
                    INVALID_ARGUMENT,
                    f"connection_tool_mappings[{index}]: connection {name!r} is mapped twice",
                    "INVALID_CONNECTION",
                )
            seen.add(name)
            tools = connection_tools(
                self.engine, name, mapping.get("tools", []), f"connection_tool_mappings[{index}]"
            )
            clean.append({"connection_name": name, "tools": tools})
        return clean

    def _get(self, session: StoreSession, config_id: str) -> McpConfigRecord:
        config = session.mcp_config(config_id)
        if config is None:
            raise _not_found()
        return config

    # --- operations -------------------------------------------------------------------------

    def create(self, config: dict[str, Any]) -> dict[str, Any]:
        mappings = self._clean_mappings(config.get("connection_tool_mappings", []))
        with self.engine.store.write() as session:
            if session.mcp_config_named(config["name"]) is not None:
                raise ApiError(
                    ALREADY_EXISTS,
                    f"an MCP configuration named {config['name']!r} exists",
                    "MCP_CONFIG_EXISTS",
                )
            now = self.engine.now_in(session)
            record = McpConfigRecord(
                id="cfg_" + str(secrets.randbelow(9 * 10**16) + 10**16),
                name=config["name"],
                description=config.get("description", ""),
                mappings=mappings,
                created_at=now,
                updated_at=now,
            )
            session.insert_mcp_config(record)
        return {"config": self.to_wire(record)}

    def get(self, config_id: str) -> dict[str, Any]:
        with self.engine.store.read() as session:
            return {"config": self.to_wire(self._get(session, config_id))}

    def update(
        self, config_id: str, description: str, mappings: list[dict[str, Any]]
    ) -> dict[str, Any]:
        clean = self._clean_mappings(mappings)
        with self.engine.store.write() as session:
            record = self._get(session, config_id)
            # proto3 fields without presence: what is sent replaces what was there.
            record.description = description
            record.mappings = clean
            record.updated_at = self.engine.now_in(session)
            session.save_mcp_config(record)
        return {"config": self.to_wire(record)}

    def delete(self, config_id: str) -> dict[str, Any]:
        with self.engine.store.write() as session:
            self._get(session, config_id)
            session.delete_mcp_config(config_id)
            # "Deletes the MCP configuration and any associated mappings and instances"
            self.engine.mcp_instances.delete_for_config(session, config_id)
        return {}

    def list(
        self,
        *,
        config_id: str = "",
        name: str = "",
        provider: str = "",
        server_url: str = "",
        search: str = "",
        page_size: int = 0,
        page_token: str = "",
    ) -> dict[str, Any]:
        with self.engine.store.read() as session:
            configs = session.mcp_configs()
        matching = []
        for config in configs:
            if config_id and config.id != config_id:
                continue
            if name and config.name.casefold() != name.casefold():
                continue
            if search and not config.name.casefold().startswith(search.casefold()):
                continue
            if provider and not any(
                (c := self.engine.settings.connection(m["connection_name"])) is not None
                and c.provider.casefold() == provider.casefold()
                for m in config.mappings
            ):
                continue
            if server_url:
                continue  # no configuration has a server URL in the sandbox (see to_wire)
            matching.append(config)
        return page(
            matching, "configs", page_size or DEFAULT_CONFIG_PAGE_SIZE, page_token, self.to_wire
        )

    def connected_accounts(
        self, config_id: str, identifier: str, include_auth_link: bool, base_url: str
    ) -> dict[str, Any]:
        """Per mapped connection: the user's account; with `include_auth_link`, accounts are
        created when missing and each gets a fresh magic link."""
        from .engine import AccountKey

        with self.engine.store.read() as session:
            config = self._get(session, config_id)
        states = []
        for mapping in config.mappings:
            name = mapping["connection_name"]
            connection = self.engine.settings.connection(name)
            if connection is None:
                continue  # the connection was removed from the environment since
            state: dict[str, Any] = {
                "connection_id": connection.connection_id,
                "connection_name": name,
                "provider": connection.provider,
            }
            key = AccountKey(connector=name, identifier=identifier)
            if include_auth_link:
                link = self.engine.create_magic_link(key, None, None, base_url)
                state["authentication_link"] = link["link"]
            with self.engine.store.read() as session:
                account = self.engine.find_account(session, key)
            if account is not None:
                state["connected_account_id"] = account.id
                state["connected_account_status"] = account.status
            states.append(state)
        return {"connected_accounts": states}

    def _signing_key(self, session: StoreSession) -> RsaKey:
        if self._key is None:
            stored = session.meta(_SIGNING_KEY_META)
            if stored is None:
                key = generate_key()
                session.set_meta(_SIGNING_KEY_META, key.to_json())
                self._key = key
            else:
                self._key = RsaKey.from_json(stored)
        return self._key

    def signing_key(self) -> RsaKey:
        with self.engine.store.write() as session:
            return self._signing_key(session)

    def session_token(
        self,
        config_id: str,
        identifier: str,
        expiry: str | None,
        access_level: str,
        base_url: str,
    ) -> dict[str, Any]:
        ttl = SESSION_TOKEN_DEFAULT_TTL if expiry is None else parse_duration(expiry)
        if not SESSION_TOKEN_MIN_TTL <= ttl <= SESSION_TOKEN_MAX_TTL:
            raise ApiError(INVALID_ARGUMENT, "expiry must be between 60s and 24h")
        with self.engine.store.write() as session:
            config = self._get(session, config_id)
            if not config.mappings:
                raise ApiError(
                    FAILED_PRECONDITION,
                    "the MCP configuration has no connections",
                    "MCP_CONFIG_HAS_NO_CONNECTIONS",
                )
            account_ids = []
            for mapping in config.mappings:
                account = session.account_by_key(mapping["connection_name"], identifier)
                if account is None or account.status != "ACTIVE":
                    raise ApiError(
                        FAILED_PRECONDITION,
                        f"connection {mapping['connection_name']!r} has no active connected "
                        "account for the identifier",
                        "CONNECTED_ACCOUNT_NOT_ACTIVE",
                    )
                account_ids.append(account.id)
            now = self.engine.now_in(session)
            key = self._signing_key(session)
        issued = int(now)
        expires = issued + int(ttl)
        claims: dict[str, Any] = {
            "iss": base_url.rstrip("/"),
            "sub": identifier,
            # aud: "the MCP server URL bound to the configuration" — none in the sandbox.
            "aud": [],
            "iat": issued,
            "exp": expires,
            "jti": secrets.token_urlsafe(12),
            "token_type": "mcp_session",
            "mcp_cfg": config.id,
            "ca_ids": account_ids,
        }
        if access_level:
            claims["access_level"] = access_level
        return {"token": sign_rs256(key, claims), "expires_at": rfc3339(expires)}
