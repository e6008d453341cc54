"""AgentKit REST routes: `/oauth/token`, `/api/v1/connected_accounts...`, tools, `/proxy`."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, Router
from starlette.types import Receive, Scope, Send

from .engine import AccountKey, SandboxEngine
from .errors import FAILED_PRECONDITION, INVALID_ARGUMENT, NOT_FOUND, ApiError, OAuthError
from .web import base_url, json_response, read_form, read_json_object, require_machine_token


def _key_from_query(request: Request) -> AccountKey:
    key = AccountKey.from_mapping(request.query_params)
    key.require()
    return key


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes")


def api_routes(engine: SandboxEngine, gmail_router: Router) -> list[BaseRoute]:
    async def issue_token(request: Request) -> Response:
        form = await read_form(request)
        # client_secret_basic is accepted too, as OAuth 2.0 servers must.
        authorization = request.headers.get("authorization", "")
        if authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8")
                client_id, _, client_secret = decoded.partition(":")
                form.setdefault("client_id", unquote(client_id))
                form.setdefault("client_secret", unquote(client_secret))
            except (ValueError, UnicodeDecodeError):
                pass
        try:
            answer = engine.issue_machine_token(form)
        except OAuthError as error:
            return json_response(error.body(), error.status, {"cache-control": "no-store"})
        return json_response(answer, headers={"cache-control": "no-store", "pragma": "no-cache"})

    async def connected_accounts(request: Request) -> Response:
        require_machine_token(request)
        if request.method == "GET":
            params = request.query_params
            answer = engine.list_accounts(
                connector=params.get("connector") or None,
                connection_names=params.getlist("connection_names") or None,
                provider=params.get("provider") or None,
                identifier=params.get("identifier") or None,
                organization_id=params.get("organization_id") or None,
                user_id=params.get("user_id") or None,
                query=params.get("query") or None,
                page_size=params.get("page_size"),
                page_token=params.get("page_token") or None,
            )
            return json_response(answer)
        body = await read_json_object(request)
        key = AccountKey.from_mapping(body)
        payload = body.get("connected_account")
        payload = {} if payload is None else payload
        if not isinstance(payload, dict):
            raise ApiError(INVALID_ARGUMENT, "connected_account must be an object")
        if request.method == "POST":
            account = engine.create_account(
                key, payload.get("authorization_details"), payload.get("api_config")
            )
            status = 201
        else:
            key.require()
            account = engine.update_account(
                key, payload.get("authorization_details"), payload.get("api_config")
            )
            status = 200
        wire = engine.account_to_wire(account, credentials=True)
        return json_response({"connected_account": wire}, status)

    async def account_auth(request: Request) -> Response:
        require_machine_token(request)
        account = engine.get_account_auth(_key_from_query(request))
        return json_response(
            {"connected_account": engine.account_to_wire(account, credentials=True)}
        )

    async def account_details(request: Request) -> Response:
        require_machine_token(request)
        account = engine.get_account_details(_key_from_query(request))
        return json_response({"connected_account": engine.account_to_wire(account)})

    async def magic_link(request: Request) -> Response:
        require_machine_token(request)
        body = await read_json_object(request)
        key = AccountKey.from_mapping(body)
        state, verify_url = body.get("state"), body.get("user_verify_url")
        for name, value in (("state", state), ("user_verify_url", verify_url)):
            if value is not None and not isinstance(value, str):
                raise ApiError(INVALID_ARGUMENT, f"{name} must be a string")
        answer = engine.create_magic_link(key, state, verify_url or None, base_url(request))
        return json_response(answer)

    async def verify_user(request: Request) -> Response:
        require_machine_token(request)
        body = await read_json_object(request)
        redirect = engine.verify_user(
            body.get("auth_request_id"), body.get("identifier"), base_url(request)
        )
        return json_response({"post_user_verify_redirect_url": redirect})

    async def delete_account(request: Request) -> Response:
        require_machine_token(request)
        body = await read_json_object(request)
        engine.delete_account(AccountKey.from_mapping(body))
        return json_response({})

    async def list_tools(request: Request) -> Response:
        require_machine_token(request)
        params = request.query_params
        answer = engine.list_tools(
            provider=params.get("filter.provider") or None,
            connector=params.get("filter.connector") or None,
            identifier=params.get("filter.identifier") or None,
            tool_names=[name for name in params.getlist("filter.tool_name") if name] or None,
            query=params.get("filter.query") or None,
            summary=_truthy(params.get("filter.summary")),
            page_size=params.get("page_size"),
            page_token=params.get("page_token") or None,
        )
        return json_response(answer)

    async def execute_tool(request: Request) -> Response:
        require_machine_token(request)
        body = await read_json_object(request)
        result = engine.execute_tool(body)
        return json_response({"data": result.data, "execution_id": result.execution_id})

    return [
        Route("/oauth/token", issue_token, methods=["POST"]),
        Route("/api/v1/connected_accounts", connected_accounts, methods=["GET", "POST", "PUT"]),
        Route("/api/v1/connected_accounts/auth", account_auth, methods=["GET"]),
        Route("/api/v1/connected_accounts/details", account_details, methods=["GET"]),
        Route("/api/v1/connected_accounts/magic_link", magic_link, methods=["POST"]),
        Route("/api/v1/connected_accounts/user/verify", verify_user, methods=["POST"]),
        Route("/api/v1/connected_accounts:delete", delete_account, methods=["POST"]),
        Route("/api/v1/tools", list_tools, methods=["GET"]),
        Route("/api/v1/execute_tool", execute_tool, methods=["POST"]),
        Route("/proxy/{path:path}", ProxyApp(engine, gmail_router)),
    ]


# Request headers that name the account to the proxy, or belong to the caller's hop.
_PROXY_OWN_HEADERS = {b"authorization", b"connection_name", b"identifier", b"content-length"}


class ProxyApp:
    """`/proxy/{path}`: runs the call against the sandbox's own provider API as the account."""

    def __init__(self, engine: SandboxEngine, gmail_router: Router) -> None:
        self.engine = engine
        self.gmail_router = gmail_router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        require_machine_token(request)
        connector = request.headers.get("connection_name")
        identifier = request.headers.get("identifier")
        if not connector or not identifier:
            raise ApiError(
                INVALID_ARGUMENT, "the headers connection_name and identifier are required"
            )
        # Header values travel as Latin-1 bytes; an identifier sent as UTF-8 is decoded back.
        identifier = _header_text(identifier)
        account = self.engine.account_for_proxy(_header_text(connector), identifier)
        connection = self.engine.connection_for(account)
        if connection is None or connection.provider != "GOOGLE":
            raise ApiError(
                NOT_FOUND,
                f"the sandbox emulates no API for connector {account.connector!r}",
                "PROXY_TARGET_NOT_FOUND",
            )
        access_token = account.access_token
        if access_token is None:
            raise ApiError(FAILED_PRECONDITION, "the account holds no access token")
        target = "/" + scope["path_params"]["path"]
        body = await request.body()
        headers = [
            (name, value) for name, value in scope["headers"] if name not in _PROXY_OWN_HEADERS
        ]
        headers.append((b"authorization", f"Bearer {access_token}".encode()))
        headers.append((b"content-length", str(len(body)).encode()))
        forwarded: dict[str, Any] = {
            **scope,
            "path": target,
            "raw_path": target.encode(),
            "root_path": "",
            "headers": headers,
            "path_params": {},
        }
        forwarded.pop("router", None)
        forwarded.pop("endpoint", None)
        forwarded.pop("route", None)
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.gmail_router(forwarded, replay, send)


def _header_text(value: str) -> str:
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value
