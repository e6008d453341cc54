"""AgentKit REST routes: `/oauth/token`, the gateway routes of every RPC the operations layer
serves (sandbox/operations.py), and `/proxy`. This face only translates: HTTP path, query and
body to (rpc, payload), the answer to JSON."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, Router
from starlette.types import Receive, Scope, Send

from . import operations, protos
from .engine import SandboxEngine
from .errors import INVALID_ARGUMENT, NOT_FOUND, ApiError, OAuthError
from .faults import replaying
from .provider_auth import PROXIED_ACCOUNT, header_text, outgoing_authorization
from .proxy_apps import build_app_routers
from .web import (
    base_url,
    json_response,
    read_form,
    read_json_object,
    read_json_value,
    require_machine_token,
)


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

    return [
        Route("/oauth/token", issue_token, methods=["POST"]),
        *_gateway_routes(engine),
        Route("/proxy/{path:path}", ProxyApp(engine, gmail_router)),
    ]


def _gateway_routes(engine: SandboxEngine) -> list[BaseRoute]:
    """One route per HTTP binding of every RPC the operations layer serves, as the
    descriptors' `google.api.http` rules declare them (path, method, which field the body
    fills) and the OpenAPI document lists them; the success status is the document's
    (201 for creates)."""
    table = protos.route_table()
    by_path: dict[str, dict[str, Any]] = {}
    for rpc in operations.OPERATIONS:
        spec = table[rpc]
        for binding in spec.get("http", ()):
            if not binding["documented"] and rpc not in operations.BEYOND_THE_DOCUMENT:
                continue
            by_path.setdefault(binding["path"], {})[binding["method"]] = (
                rpc,
                binding["body"],
                spec.get("status", 200),
            )
    return [
        Route(path, _gateway_endpoint(engine, methods), methods=list(methods))
        for path, methods in by_path.items()
    ]


def _gateway_endpoint(engine: SandboxEngine, methods: dict[str, Any]) -> Any:
    async def endpoint(request: Request) -> Response:
        # Starlette answers HEAD on GET routes: the same call, its body dropped on the wire.
        method = "GET" if request.method == "HEAD" else request.method
        rpc, body_field, status = methods[method]
        token = require_machine_token(request)
        message = operations.OPERATIONS[rpc].request
        try:
            if body_field == "*":
                payload = await read_json_object(request)
            else:
                payload = protos.query_payload(message, request.query_params.multi_items())
                if body_field:
                    payload[body_field] = await read_json_value(request)
        except protos.RequestInvalid as error:
            raise operations.rule_error(error.violations) from error
        payload.update(request.path_params)
        context = operations.CallContext(base_url=base_url(request), machine_token=token)
        return json_response(operations.run(engine, rpc, payload, context), status)

    return endpoint


# Request headers that name the account to the proxy, or belong to the caller's hop.
_PROXY_OWN_HEADERS = {b"authorization", b"connection_name", b"identifier", b"content-length"}


class ProxyApp:
    """`/proxy/{path}`: runs the call against the sandbox's own face of the provider behind the
    account's connection (`Connection.app`), with the account's credentials."""

    def __init__(self, engine: SandboxEngine, gmail_router: Router) -> None:
        self.engine = engine
        self.routers = {"gmail": gmail_router, **build_app_routers(engine)}

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
        identifier = header_text(identifier)
        account = self.engine.account_for_proxy(header_text(connector), identifier)
        connection = self.engine.connection_for(account)
        router = self.routers.get(connection.app or "") if connection is not None else None
        if connection is None or router is None:
            # The contract names no error for a connection without a provider API to reach.
            raise ApiError(
                NOT_FOUND,
                f"the sandbox emulates no API for connector {account.connector!r}",
                "PROXY_TARGET_NOT_FOUND",
            )
        authorization = outgoing_authorization(connection, account)
        target = "/" + scope["path_params"]["path"]
        body = await request.body()
        headers = [
            (name, value) for name, value in scope["headers"] if name not in _PROXY_OWN_HEADERS
        ]
        headers.append((b"authorization", authorization.encode()))
        headers.append((b"content-length", str(len(body)).encode()))
        forwarded: dict[str, Any] = {
            **scope,
            "path": target,
            "raw_path": target.encode(),
            "root_path": "",
            "headers": headers,
            "path_params": {},
            PROXIED_ACCOUNT: account.id,
        }
        forwarded.pop("router", None)
        forwarded.pop("endpoint", None)
        forwarded.pop("route", None)
        await router(forwarded, replaying(body, receive), send)
