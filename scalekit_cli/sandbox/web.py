"""Small helpers shared by the route modules (imports Starlette: only the app builders use it)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse

from .errors import INVALID_ARGUMENT, UNAUTHENTICATED, ApiError

if TYPE_CHECKING:
    from .engine import SandboxEngine


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def read_json_value(request: Request) -> Any:
    """The JSON body; an empty body is an empty message, as in grpc-gateway."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise ApiError(INVALID_ARGUMENT, f"the request body is not valid JSON: {error}") from error


async def read_json_object(request: Request) -> dict[str, Any]:
    """The JSON body as an object; an empty body is an empty message, as in grpc-gateway."""
    value = await read_json_value(request)
    if not isinstance(value, dict):
        raise ApiError(INVALID_ARGUMENT, "the request body must be a JSON object")
    return value


async def read_form(request: Request) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body (no python-multipart needed)."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return {}
    return dict(parse_qsl(text, keep_blank_values=True))


def bearer_from_header(header: str | None) -> str | None:
    """The token of an `authorization: Bearer …` value (HTTP header or gRPC metadata)."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def bearer_token(request: Request) -> str | None:
    return bearer_from_header(request.headers.get("authorization"))


def check_machine_token(engine: SandboxEngine, authorization: str | None) -> str:
    """The caller's live machine token, whichever face the call came through; ApiError(16)
    when missing, unknown or expired."""
    token = bearer_from_header(authorization)
    if token is None:
        raise ApiError(UNAUTHENTICATED, "missing bearer token", "UNAUTHENTICATED")
    if not engine.machine_token_is_live(token):
        raise ApiError(
            UNAUTHENTICATED, "the access token is invalid, expired or revoked", "UNAUTHENTICATED"
        )
    return token


def require_machine_token(request: Request) -> str:
    return check_machine_token(request.app.state.sandbox, request.headers.get("authorization"))


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(payload, status_code=status, headers=headers)
