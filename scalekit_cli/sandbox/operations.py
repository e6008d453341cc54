"""The sandbox's AgentKit operations keyed by full RPC name (interim: replaced by the
operations layer of the field-rules work when it lands)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .engine import AccountKey, SandboxEngine
from .errors import INVALID_ARGUMENT, ApiError

CONNECTED_ACCOUNTS = "scalekit.v1.connected_accounts.ConnectedAccountService"
TOOLS = "scalekit.v1.tools.ToolService"


@dataclass(frozen=True)
class OperationContext:
    base_url: str  # the base of links the answer carries (magic links, redirects)


Handler = Callable[[SandboxEngine, dict[str, Any], OperationContext], dict[str, Any]]


def _account_payload(request: dict[str, Any]) -> dict[str, Any]:
    payload = request.get("connected_account") or {}
    if not isinstance(payload, dict):
        raise ApiError(INVALID_ARGUMENT, "connected_account must be an object")
    return payload


def _create(engine: SandboxEngine, request: dict[str, Any], _: OperationContext) -> dict[str, Any]:
    payload = _account_payload(request)
    account = engine.create_account(
        AccountKey.from_mapping(request),
        payload.get("authorization_details"),
        payload.get("api_config"),
    )
    return {"connected_account": engine.account_to_wire(account, credentials=True)}


def _update(engine: SandboxEngine, request: dict[str, Any], _: OperationContext) -> dict[str, Any]:
    payload = _account_payload(request)
    key = AccountKey.from_mapping(request)
    key.require()
    account = engine.update_account(
        key, payload.get("authorization_details"), payload.get("api_config")
    )
    return {"connected_account": engine.account_to_wire(account, credentials=True)}


def _auth(engine: SandboxEngine, request: dict[str, Any], _: OperationContext) -> dict[str, Any]:
    key = AccountKey.from_mapping(request)
    key.require()
    account = engine.get_account_auth(key)
    return {"connected_account": engine.account_to_wire(account, credentials=True)}


def _details(engine: SandboxEngine, request: dict[str, Any], _: OperationContext) -> dict[str, Any]:
    key = AccountKey.from_mapping(request)
    key.require()
    return {"connected_account": engine.account_to_wire(engine.get_account_details(key))}


def _list(engine: SandboxEngine, request: dict[str, Any], _: OperationContext) -> dict[str, Any]:
    return engine.list_accounts(
        connector=request.get("connector") or None,
        connection_names=request.get("connection_names") or None,
        provider=request.get("provider") or None,
        identifier=request.get("identifier") or None,
        organization_id=request.get("organization_id") or None,
        user_id=request.get("user_id") or None,
        query=request.get("query") or None,
        page_size=request.get("page_size"),
        page_token=request.get("page_token") or None,
    )


def _delete(engine: SandboxEngine, request: dict[str, Any], _: OperationContext) -> dict[str, Any]:
    engine.delete_account(AccountKey.from_mapping(request))
    return {}


def _magic_link(
    engine: SandboxEngine, request: dict[str, Any], context: OperationContext
) -> dict[str, Any]:
    return engine.create_magic_link(
        AccountKey.from_mapping(request),
        request.get("state"),
        request.get("user_verify_url") or None,
        context.base_url,
    )


def _verify(
    engine: SandboxEngine, request: dict[str, Any], context: OperationContext
) -> dict[str, Any]:
    redirect = engine.verify_user(
        request.get("auth_request_id"), request.get("identifier"), context.base_url
    )
    return {"post_user_verify_redirect_url": redirect}


def _list_tools(
    engine: SandboxEngine, request: dict[str, Any], _: OperationContext
) -> dict[str, Any]:
    wanted = request.get("filter") or {}
    return engine.list_tools(
        provider=wanted.get("provider") or None,
        connector=wanted.get("connector") or None,
        identifier=wanted.get("identifier") or None,
        tool_names=wanted.get("tool_name") or None,
        query=wanted.get("query") or None,
        summary=bool(wanted.get("summary")),
        page_size=request.get("page_size"),
        page_token=request.get("page_token") or None,
    )


def _execute_tool(
    engine: SandboxEngine, request: dict[str, Any], _: OperationContext
) -> dict[str, Any]:
    result = engine.execute_tool(request)
    return {"data": result.data, "execution_id": result.execution_id}


OPERATIONS: dict[str, Handler] = {
    f"{CONNECTED_ACCOUNTS}/CreateConnectedAccount": _create,
    f"{CONNECTED_ACCOUNTS}/UpdateConnectedAccount": _update,
    f"{CONNECTED_ACCOUNTS}/GetConnectedAccountAuth": _auth,
    f"{CONNECTED_ACCOUNTS}/GetConnectedAccountDetails": _details,
    f"{CONNECTED_ACCOUNTS}/ListConnectedAccounts": _list,
    f"{CONNECTED_ACCOUNTS}/DeleteConnectedAccount": _delete,
    f"{CONNECTED_ACCOUNTS}/GetMagicLinkForConnectedAccount": _magic_link,
    f"{CONNECTED_ACCOUNTS}/VerifyConnectedAccountUser": _verify,
    f"{TOOLS}/ListTools": _list_tools,
    f"{TOOLS}/ExecuteTool": _execute_tool,
}


def run(
    engine: SandboxEngine, rpc: str, payload: dict[str, Any], context: OperationContext
) -> dict[str, Any]:
    return OPERATIONS[rpc](engine, payload, context)
