"""The admin surface `/_sandbox/...`: forced states, the clock, faults, the request log.

Only loopback callers are served: the surface can mint tokens and rewrite state, so a server
bound to a public interface by mistake must not expose it.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .engine import SandboxEngine
from .errors import ApiError
from .faults import FaultSpecError, fault_from_spec

Endpoint = Callable[[Request], Awaitable[Response]]


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _admin(endpoint: Endpoint) -> Endpoint:
    async def guarded(request: Request) -> Response:
        if not is_loopback(request.client.host if request.client else None):
            return _error(403, "the sandbox admin surface answers loopback callers only")
        try:
            return await endpoint(request)
        except (ValueError, FaultSpecError) as error:
            return _error(400, str(error))
        except ApiError as error:
            return _error(error.http_status, error.message)

    guarded.__name__ = endpoint.__name__
    return guarded


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as error:
        raise ValueError(f"the body is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise ValueError("the body must be a JSON object")
    return value


def _account_target(body: dict[str, Any]) -> tuple[str, str]:
    connector, identifier = body.get("connector"), body.get("identifier")
    if not (
        isinstance(connector, str) and connector and isinstance(identifier, str) and identifier
    ):
        raise ValueError("connector and identifier are required")
    return connector, identifier


def admin_routes(engine: SandboxEngine) -> list[BaseRoute]:
    @_admin
    async def account_status(request: Request) -> Response:
        body = await _body(request)
        connector, identifier = _account_target(body)
        status = body.get("status")
        if not isinstance(status, str):
            raise ValueError("status is required")
        account = engine.force_status(connector, identifier, status)
        return JSONResponse({"connected_account": engine.account_to_wire(account)})

    @_admin
    async def revoke_account(request: Request) -> Response:
        body = await _body(request)
        connector, identifier = _account_target(body)
        account = engine.revoke_access_token(connector, identifier, bool(body.get("rotate", False)))
        return JSONResponse({"connected_account": engine.account_to_wire(account)})

    @_admin
    async def clock(request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            seconds = body.get("advance_seconds")
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
                raise ValueError("advance_seconds must be a number >= 0")
            engine.advance_clock(float(seconds))
        return JSONResponse({"offset_seconds": engine.clock_offset(), "now": engine.now()})

    @_admin
    async def faults(request: Request) -> Response:
        if request.method == "POST":
            fault = engine.faults.add(fault_from_spec(await _body(request)))
            return JSONResponse({"id": fault.id})
        if request.method == "DELETE":
            engine.faults.clear()
        return JSONResponse({"faults": engine.faults.list()})

    @_admin
    async def one_fault(request: Request) -> Response:
        if not engine.faults.remove(request.path_params["fault_id"]):
            return _error(404, "no such fault")
        return JSONResponse({"faults": engine.faults.list()})

    @_admin
    async def revoke_machine_tokens(request: Request) -> Response:
        return JSONResponse({"revoked": engine.revoke_machine_tokens()})

    @_admin
    async def settings(request: Request) -> Response:
        if request.method == "POST":
            return JSONResponse(engine.update_settings(await _body(request)))
        return JSONResponse(engine.settings_snapshot())

    @_admin
    async def requests(request: Request) -> Response:
        if request.method == "DELETE":
            engine.request_log.clear()
            return JSONResponse({"requests": []})
        return JSONResponse({"requests": engine.request_log.list()})

    @_admin
    async def reset(request: Request) -> Response:
        engine.reset()
        return JSONResponse({})

    return [
        Route("/_sandbox/accounts/status", account_status, methods=["POST"]),
        Route("/_sandbox/accounts/revoke", revoke_account, methods=["POST"]),
        Route("/_sandbox/clock", clock, methods=["GET", "POST"]),
        Route("/_sandbox/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/faults/{fault_id}", one_fault, methods=["DELETE"]),
        Route("/_sandbox/machine_tokens/revoke", revoke_machine_tokens, methods=["POST"]),
        Route("/_sandbox/settings", settings, methods=["GET", "POST"]),
        Route("/_sandbox/requests", requests, methods=["GET", "DELETE"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
    ]
