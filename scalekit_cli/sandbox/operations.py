"""The AgentKit RPCs of the sandbox, keyed by RPC: one place for their semantics.

Every face (REST today, gRPC next) translates its wire to the same call:

    run(engine, rpc, payload, context) -> dict

- `rpc`: the full RPC name, `"scalekit.v1.connected_accounts.ConnectedAccountService/
  CreateConnectedAccount"`, `"scalekit.v1.tools.ToolService/ExecuteTool"`, … — the keys of
  `OPERATIONS`.
- `payload`: the request message as a dict in the proto JSON mapping with proto field names
  (the REST gateway's shape: `{"connector": "gmail", "identifier": "u",
  "connected_account": {}}`). Unknown fields are dropped; numbers may be strings. A face that
  holds the message itself (gRPC) calls `run_message` instead.
- `context`: a `CallContext` — the base URL links are built on, and the caller's machine
  token (already checked by the face).
- Returns the response message as a dict of the same mapping (unpopulated fields left out).
- Raises `ApiError` (sandbox/errors.py: gRPC code, message, `error_code`); a request that
  breaks the service's `buf.validate` field rules is `ApiError(3, "field: rule message")`
  before the handler runs, with the violations in `ApiError.field_violations`.

`OPERATIONS[rpc]` is an `Operation(rpc, request, response, handler)`: `request`/`response`
are the full proto message names (`scalekit.v1.tools.ExecuteToolRequest`); a handler is
`handler(engine, payload, context) -> dict` and gets the payload already parsed and checked.
The messages, HTTP bindings and field rules come from the SDK's descriptors (`protos.py`:
protobuf parses, protovalidate judges), never from this file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import protos, providers
from .engine import DISCONNECTED, AccountKey, SandboxEngine
from .errors import INVALID_ARGUMENT, NOT_FOUND, ApiError
from .settings import Connection

if TYPE_CHECKING:
    from google.protobuf.message import Message

CONNECTED_ACCOUNTS = "scalekit.v1.connected_accounts.ConnectedAccountService"
TOOLS = "scalekit.v1.tools.ToolService"
MCP = "scalekit.v1.mcp.McpService"
PROVIDERS = "scalekit.v1.providers.ProviderService"
CONNECTIONS = "scalekit.v1.connections.ConnectionService"


@dataclass(frozen=True)
class CallContext:
    base_url: str  # where the sandbox is reached: magic links and redirects are built on it
    machine_token: str | None = None  # the caller's bearer token, already checked


Handler = Callable[[SandboxEngine, dict[str, Any], CallContext], dict[str, Any]]


@dataclass(frozen=True)
class Operation:
    rpc: str
    request: str  # full name of the request message
    response: str  # full name of the response message
    handler: Handler


def run(
    engine: SandboxEngine, rpc: str, payload: dict[str, Any], context: CallContext
) -> dict[str, Any]:
    """Parse `payload` as `rpc`'s request, check its field rules, then run its handler."""
    operation = _operation(rpc)
    return operation.handler(engine, check(operation.request, payload), context)


def run_message(
    engine: SandboxEngine, rpc: str, message: Message, context: CallContext
) -> dict[str, Any]:
    """`run` for a face that holds the request message itself."""
    operation = _operation(rpc)
    return operation.handler(engine, checked_payload(message), context)


def _operation(rpc: str) -> Operation:
    operation = OPERATIONS.get(rpc)
    if operation is None:
        raise ApiError(12, f"method {rpc} is not implemented by the sandbox", "UNIMPLEMENTED")
    return operation


def check(message: str, payload: Any) -> dict[str, Any]:
    """`payload` parsed as `message` and checked; ApiError(3) naming the field and rule on a
    breach, or the parse error when it does not parse."""
    try:
        parsed = protos.from_json(message, payload)
    except protos.RequestInvalid as error:
        raise rule_error(error.violations) from None
    return checked_payload(parsed)


def checked_payload(message: Message) -> dict[str, Any]:
    """The message as handlers read it, once protovalidate accepts it (else ApiError(3))."""
    violations = protos.violations(message)
    if violations:
        raise rule_error(violations)
    from google.protobuf import json_format

    try:
        return protos.to_payload(message)
    except json_format.Error:  # a NaN or infinity in a Struct: JSON has no spelling for it
        raise rule_error(
            [protos.FieldViolation("", "type", "a number in the request is NaN or infinite")]
        ) from None


def rule_error(violations: list[protos.FieldViolation]) -> ApiError:
    error = ApiError(INVALID_ARGUMENT, "; ".join(str(v) for v in violations))
    error.field_violations = list(violations)
    return error


# --- connected accounts --------------------------------------------------------------------


def _key(payload: dict[str, Any]) -> AccountKey:
    return AccountKey.from_mapping(payload)


def _list_accounts(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return engine.list_accounts(
        connector=p.get("connector") or None,
        connection_names=p.get("connection_names") or None,
        provider=p.get("provider") or None,
        identifier=p.get("identifier") or None,
        organization_id=p.get("organization_id") or None,
        user_id=p.get("user_id") or None,
        query=p.get("query") or None,
        page_size=p.get("page_size"),
        page_token=p.get("page_token") or None,
    )


def _create_account(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    body = p.get("connected_account", {})
    account = engine.create_account(
        _key(p), body.get("authorization_details"), body.get("api_config")
    )
    return {"connected_account": engine.account_to_wire(account, credentials=True)}


def _update_account(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    key = _key(p)
    key.require()
    body = p.get("connected_account", {})
    account = engine.update_account(key, body.get("authorization_details"), body.get("api_config"))
    return {"connected_account": engine.account_to_wire(account, credentials=True)}


def _account_auth(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    key = _key(p)
    key.require()
    account = engine.get_account_auth(key)
    return {"connected_account": engine.account_to_wire(account, credentials=True)}


def _account_details(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    key = _key(p)
    key.require()
    return {"connected_account": engine.account_to_wire(engine.get_account_details(key))}


def _magic_link(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return engine.create_magic_link(
        _key(p), p.get("state"), p.get("user_verify_url") or None, c.base_url
    )


def _verify_user(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    redirect = engine.verify_user(p.get("auth_request_id"), p.get("identifier"), c.base_url)
    return {"post_user_verify_redirect_url": redirect}


def _delete_account(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    engine.delete_account(_key(p))
    return {}


def _account_by_id(engine: SandboxEngine, p: dict[str, Any]) -> AccountKey:
    # The `this` bindings name the caller's own account, which only an end-user session has:
    # a machine token has none, so an empty id is not found, as an unknown one.
    if not p.get("id"):
        raise ApiError(NOT_FOUND, "connected account not found", "CONNECTED_ACCOUNT_NOT_FOUND")
    return AccountKey(id=p["id"])


def _get_account(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    account = engine.get_account_details(_account_by_id(engine, p))
    return {"connected_account": engine.account_to_wire(account)}


def _disconnect_account(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    """The account stays, DISCONNECTED and without credentials: tools and the proxy refuse it
    until it is authorized again (a magic link, or an update with new credentials)."""
    key = _account_by_id(engine, p)
    with engine.store.write() as session:
        account = engine.find_account(session, key)
        if account is None:
            raise ApiError(NOT_FOUND, "connected account not found", "CONNECTED_ACCOUNT_NOT_FOUND")
        account.status = DISCONNECTED
        account.authorization_details = {}
        account.token_expires_at = None
        account.updated_at = engine.now_in(session)
        session.save_account(account)
    return {"connected_account": engine.account_to_wire(account)}


# --- tools ---------------------------------------------------------------------------------


def _list_tools(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    where = p.get("filter", {})
    return engine.list_tools(
        provider=where.get("provider") or None,
        connector=where.get("connector") or None,
        identifier=where.get("identifier") or None,
        tool_names=[name for name in where.get("tool_name", []) if name] or None,
        query=where.get("query") or None,
        summary=bool(where.get("summary")),
        page_size=p.get("page_size"),
        page_token=p.get("page_token") or None,
    )


def _execute_tool(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    result = engine.execute_tool(p)
    return {"data": result.data, "execution_id": result.execution_id}


def _search_accounts(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return engine.search_accounts(
        p["query"],
        page_size=p.get("page_size", 0),
        page_token=p.get("page_token", ""),
        connection_id=p.get("connection_id", ""),
    )


def _scoped_tools(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    where = p.get("filter", {})
    return engine.list_scoped_tools(
        p["identifier"],
        providers=where.get("providers", []),
        tool_names=where.get("tool_names", []),
        connection_names=where.get("connection_names", []),
        page_size=p.get("page_size", 0),
        page_token=p.get("page_token", ""),
    )


def _available_tools(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return engine.list_available_tools(
        p["identifier"], page_size=p.get("page_size", 0), page_token=p.get("page_token", "")
    )


def _search_tools(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return engine.search_tools(p["query"], p.get("identifier", ""), p.get("top_k", 0))


# --- app connections -------------------------------------------------------------------------


def _list_app_connections(
    engine: SandboxEngine, p: dict[str, Any], c: CallContext
) -> dict[str, Any]:
    answer = engine.list_app_connections(
        provider=p.get("provider", ""),
        query=p.get("query", ""),
        page_size=p.get("page_size", 0),
        page_token=p.get("page_token", ""),
    )
    answer["connections"] = [_app_connection(c) for c in answer["connections"]]
    return answer


def _app_connection(connection: Connection) -> dict[str, Any]:
    """A `ListConnection`: the connection's name is its `key_id`, its provider's identifier
    `provider_key`; `provider` is the enum's value only where the enum has one (it names
    identity providers, and most AgentKit providers are not among them)."""
    providers = protos.descriptor_pool().FindEnumTypeByName(
        "scalekit.v1.connections.ConnectionProvider"
    )
    wire: dict[str, Any] = {
        "id": connection.connection_id,
        "key_id": connection.name,
        "provider_key": connection.provider,
        "status": "COMPLETED",
        "enabled": True,
        "auth_mode": "USER",
    }
    if connection.provider in providers.values_by_name:
        wire["provider"] = connection.provider
    # `type` is a ConnectionType, which spells two of the account's ConnectorType values
    # otherwise and has no CUSTOM: such a connection leaves it unset.
    kind = _CONNECTION_TYPE.get(connection.authorization_type, connection.authorization_type)
    types = protos.descriptor_pool().FindEnumTypeByName("scalekit.v1.connections.ConnectionType")
    if kind in types.values_by_name:
        wire["type"] = kind
    return wire


_CONNECTION_TYPE = {"BASIC_AUTH": "BASIC", "BEARER_TOKEN": "BEARER"}


# --- MCP configurations ----------------------------------------------------------------------


def _list_mcp_configs(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    where = p.get("filter", {})
    return engine.mcp.list(
        config_id=where.get("id", ""),
        name=where.get("name", ""),
        provider=where.get("provider", ""),
        server_url=where.get("mcp_server_url", ""),
        search=p.get("search", ""),
        page_size=p.get("page_size", 0),
        page_token=p.get("page_token", ""),
    )


def _create_mcp_config(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return engine.mcp.create(p["config"])


def _get_mcp_config(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return engine.mcp.get(p["config_id"])


def _update_mcp_config(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return engine.mcp.update(
        p["config_id"], p.get("description", ""), p.get("connection_tool_mappings", [])
    )


def _delete_mcp_config(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return engine.mcp.delete(p["config_id"])


def _mcp_accounts(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return engine.mcp.connected_accounts(
        p["config_id"], p["identifier"], bool(p.get("include_auth_link")), c.base_url
    )


def _mcp_session_token(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    if p.get("key_id"):
        raise ApiError(
            NOT_FOUND, "the sandbox has no MCP connection keys", "MCP_CONNECTION_NOT_FOUND"
        )
    return engine.mcp.session_token(
        p["mcp_config_id"],
        p.get("identifier", ""),
        p.get("expiry"),
        p.get("access_level", ""),
        c.base_url,
    )


# --- MCP instances and MCP definitions ------------------------------------------------------


def _ensure_instance(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return engine.mcp_instances.ensure(p.get("name", ""), p["config_name"], p["user_identifier"])


def _get_instance(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return engine.mcp_instances.get(p["instance_id"])


def _list_instances(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return engine.mcp_instances.list(
        where=p.get("filter", {}),
        search=p.get("search", ""),
        page_size=p.get("page_size", 0),
        page_token=p.get("page_token", ""),
    )


def _update_instance(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return engine.mcp_instances.update(
        p["instance_id"], p.get("name", ""), p.get("config_name", "")
    )


def _delete_instance(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return engine.mcp_instances.delete(p["instance_id"])


def _instance_auth_state(
    engine: SandboxEngine, p: dict[str, Any], c: CallContext
) -> dict[str, Any]:
    return engine.mcp_instances.auth_state(
        p["instance_id"], bool(p.get("include_auth_links")), c.base_url
    )


def _create_mcp(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return engine.mcp_servers.create(p["mcp"])


def _get_mcp(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return engine.mcp_servers.get(p["mcp_id"])


def _list_mcp(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    where = p.get("filter", {})
    return engine.mcp_servers.list(
        where.get("connected_account_identifier", ""), where.get("link_token", "")
    )


def _delete_mcp(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return engine.mcp_servers.delete(p["mcp_id"])


# --- providers -------------------------------------------------------------------------------


def _list_providers(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return providers.list_providers(
        engine,
        identifier=p.get("identifier", ""),
        provider_type=p.get("filter", {}).get("provider_type", "DEFAULT"),
        page_size=p.get("page_size", 0),
        page_token=p.get("page_token", ""),
    )


# --- custom providers ------------------------------------------------------------------------


def _create_provider(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return engine.providers.create(p["provider"])


def _update_provider(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return engine.providers.update(p.get("identifier", ""), p["provider"])


def _delete_provider(engine: SandboxEngine, p: dict[str, Any], c: CallContext) -> dict[str, Any]:
    return engine.providers.delete(p.get("identifier", ""))


# RPCs served over REST at their descriptors' binding though the OpenAPI document does not
# list them: the SDKs call them, so the descriptors are their contract.
BEYOND_THE_DOCUMENT = frozenset(
    {
        f"{TOOLS}/SearchTools",
        f"{CONNECTIONS}/ListAppConnections",
        f"{CONNECTED_ACCOUNTS}/GetConnectedAccount",
        f"{CONNECTED_ACCOUNTS}/DisconnectConnectedAccount",
        f"{MCP}/EnsureMcpInstance",
        f"{MCP}/GetMcpInstance",
        f"{MCP}/ListMcpInstances",
        f"{MCP}/UpdateMcpInstance",
        f"{MCP}/DeleteMcpInstance",
        f"{MCP}/GetMcpInstanceAuthState",
        f"{MCP}/CreateMcp",
        f"{MCP}/GetMcp",
        f"{MCP}/ListMcp",
        f"{MCP}/DeleteMcp",
        f"{PROVIDERS}/ListProviders",
    }
)


def _operations(*entries: tuple[str, Handler]) -> dict[str, Operation]:
    table = protos.route_table()
    operations: dict[str, Operation] = {}
    for rpc, handler in entries:
        spec = table[rpc]
        operations[rpc] = Operation(rpc, spec["request"], spec["response"], handler)
    return operations


OPERATIONS: dict[str, Operation] = _operations(
    (f"{CONNECTED_ACCOUNTS}/ListConnectedAccounts", _list_accounts),
    (f"{CONNECTED_ACCOUNTS}/CreateConnectedAccount", _create_account),
    (f"{CONNECTED_ACCOUNTS}/UpdateConnectedAccount", _update_account),
    (f"{CONNECTED_ACCOUNTS}/GetConnectedAccountAuth", _account_auth),
    (f"{CONNECTED_ACCOUNTS}/GetConnectedAccountDetails", _account_details),
    (f"{CONNECTED_ACCOUNTS}/GetMagicLinkForConnectedAccount", _magic_link),
    (f"{CONNECTED_ACCOUNTS}/VerifyConnectedAccountUser", _verify_user),
    (f"{CONNECTED_ACCOUNTS}/DeleteConnectedAccount", _delete_account),
    (f"{CONNECTED_ACCOUNTS}/SearchConnectedAccounts", _search_accounts),
    (f"{TOOLS}/ListTools", _list_tools),
    (f"{TOOLS}/ListScopedTools", _scoped_tools),
    (f"{TOOLS}/ListAvailableTools", _available_tools),
    (f"{TOOLS}/ExecuteTool", _execute_tool),
    (f"{TOOLS}/SearchTools", _search_tools),
    (f"{CONNECTIONS}/ListAppConnections", _list_app_connections),
    (f"{MCP}/ListMcpConfigs", _list_mcp_configs),
    (f"{MCP}/CreateMcpConfig", _create_mcp_config),
    (f"{MCP}/GetMcpConfig", _get_mcp_config),
    (f"{MCP}/UpdateMcpConfig", _update_mcp_config),
    (f"{MCP}/DeleteMcpConfig", _delete_mcp_config),
    (f"{MCP}/ListMcpConnectedAccounts", _mcp_accounts),
    (f"{MCP}/CreateMcpSessionToken", _mcp_session_token),
    (f"{PROVIDERS}/CreateCustomProvider", _create_provider),
    (f"{PROVIDERS}/UpdateCustomProvider", _update_provider),
    (f"{PROVIDERS}/DeleteCustomProvider", _delete_provider),
    # After the literal paths above: `/connected_accounts/{id}` must not take `/auth`, and
    # `/mcp/{mcp_id}` must not take `/mcp/configs` or `/mcp/instances` (routes match in order).
    (f"{CONNECTED_ACCOUNTS}/GetConnectedAccount", _get_account),
    (f"{CONNECTED_ACCOUNTS}/DisconnectConnectedAccount", _disconnect_account),
    (f"{MCP}/EnsureMcpInstance", _ensure_instance),
    (f"{MCP}/ListMcpInstances", _list_instances),
    (f"{MCP}/GetMcpInstance", _get_instance),
    (f"{MCP}/UpdateMcpInstance", _update_instance),
    (f"{MCP}/DeleteMcpInstance", _delete_instance),
    (f"{MCP}/GetMcpInstanceAuthState", _instance_auth_state),
    (f"{MCP}/CreateMcp", _create_mcp),
    (f"{MCP}/ListMcp", _list_mcp),
    (f"{MCP}/GetMcp", _get_mcp),
    (f"{MCP}/DeleteMcp", _delete_mcp),
    (f"{PROVIDERS}/ListProviders", _list_providers),
)

# The AgentKit RPCs of the shipped descriptors the sandbox leaves out, each with why; every RPC
# of the route table is in exactly one of OPERATIONS and NOT_SERVED (a test holds it), and
# `make contract` writes both into CONTRACT.md's "What the sandbox serves".
_ADMIN = "admin (dashboard) CRUD of the global catalogue, which the sandbox fixes as data"
_MY = "end-user session RPC (`my-*`): called with a user's session, not a machine token"
NOT_SERVED: dict[str, str] = {
    f"{CONNECTED_ACCOUNTS}/AuthorizeOrgWideCredential": "org-wide credentials: no SDK calls "
    "it, and the sandbox keeps accounts per user identifier only",
    f"{CONNECTED_ACCOUNTS}/CreateRedirectUrl": "connected-accounts portal redirect: no SDK "
    "calls it; the sandbox's hosted page is reached by magic links",
    f"{CONNECTED_ACCOUNTS}/GetRedirectUrl": "connected-accounts portal redirect: no SDK calls "
    "it; the sandbox's hosted page is reached by magic links",
    f"{CONNECTED_ACCOUNTS}/DisconnectMyConnectedAccount": _MY,
    f"{CONNECTED_ACCOUNTS}/GetMyConnectionMagicLink": _MY,
    f"{CONNECTED_ACCOUNTS}/ListMyAppConnections": _MY,
    f"{PROVIDERS}/ListMyProviders": _MY,
    f"{PROVIDERS}/CreateProvider": _ADMIN + " (custom providers are served)",
    f"{PROVIDERS}/UpdateProvider": _ADMIN + " (custom providers are served)",
    f"{PROVIDERS}/DeleteProvider": _ADMIN + " (custom providers are served)",
    f"{TOOLS}/CreateTool": _ADMIN,
    f"{TOOLS}/UpdateTool": _ADMIN,
    f"{TOOLS}/DeleteTool": _ADMIN,
    f"{TOOLS}/SetToolDefault": _ADMIN,
    f"{TOOLS}/RefreshTools": "re-reads a provider's tools from its upstream: the sandbox's "
    "catalogue is fixed data, with nothing upstream to refresh",
}
