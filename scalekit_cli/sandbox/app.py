"""`create_app`: the Starlette application of the sandbox (the only module that assembles it)."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from .admin import admin_routes
from .api import api_routes
from .engine import SandboxEngine
from .errors import (
    GOOGLE_WWW_AUTHENTICATE,
    ApiError,
    GmailError,
    gateway_error_body,
    google_error_body,
)
from .faults import Authenticated, DroppedConnection, FaultMiddleware
from .gmail import build_gmail_router
from .guard import WebGuard, served_host
from .hosted import hosted_routes
from .settings import SandboxSettings


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return JSONResponse(error.body(), status_code=error.http_status)


async def _gmail_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, GmailError)
    headers = None
    if error.status == 401:
        headers = {"www-authenticate": GOOGLE_WWW_AUTHENTICATE}
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


async def _http_error(request: Request, error: Exception) -> Response:
    """Unmatched paths and methods, in the error shape of whatever that path pretends to be."""
    assert isinstance(error, HTTPException)
    status, path = error.status_code, request.url.path
    if path.startswith("/gmail/"):
        message = "Requested entity was not found." if status == 404 else error.detail
        return JSONResponse(google_error_body(status, message), status_code=status)
    if path.startswith(("/api/", "/proxy")):
        # grpc-gateway answers an unknown route (path or method) NOT_FOUND.
        if status in (404, 405):
            return JSONResponse(gateway_error_body(5, "Not Found"), status_code=404)
        body = gateway_error_body(3, error.detail or "Bad Request")
        return JSONResponse(body, status_code=status)
    if path.startswith("/magic/"):
        return HTMLResponse(
            f"<!doctype html><title>{status}</title><h1>{error.detail}</h1>", status_code=status
        )
    return JSONResponse({"error": error.detail}, status_code=status)


async def _unexpected(request: Request, error: Exception) -> Response:
    return JSONResponse(gateway_error_body(13, "internal error in the sandbox"), status_code=500)


class HideDroppedConnections(logging.Filter):
    """A `drop` fault is deliberate; keep uvicorn from printing its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        info = record.exc_info
        return not (info and isinstance(info[1], DroppedConnection))


def _quiet_uvicorn_about_drops() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, HideDroppedConnections) for f in logger.filters):
        logger.addFilter(HideDroppedConnections())


def engine_authenticates(engine: SandboxEngine) -> Authenticated:
    """Whether a request proves who sent it (a live machine token or account access token, or
    the client credentials of the token exchange): only those have their bodies kept in the
    request log."""
    import hmac
    from urllib.parse import parse_qsl

    def authenticated(path: str, headers: dict[str, str], body: bytes) -> bool:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            # A machine token, or an account's access token (the Gmail stand-in's callers).
            bearer = token.strip()
            return engine.machine_token_is_live(bearer) or engine.gmail_account(bearer) is not None
        if path == "/oauth/token":
            form = dict(parse_qsl(body.decode("utf-8", "replace")))
            settings = engine.settings
            return form.get("client_id") == settings.client_id and hmac.compare_digest(
                form.get("client_secret", "").encode(), settings.client_secret.encode()
            )
        return False

    return authenticated


def create_app(
    settings: SandboxSettings | None = None,
    *,
    engine: SandboxEngine | None = None,
    grpc: bool = False,
) -> Starlette:
    """The sandbox as an ASGI app; `app.state.sandbox` holds its engine. `grpc` adds the gRPC
    face's paths (needs the `[grpc]` extra and an HTTP/2 server, see `server.py`)."""
    if engine is None:
        engine = SandboxEngine(settings or SandboxSettings())
    gmail_router = build_gmail_router(engine)
    routes = [
        *admin_routes(engine),
        *api_routes(engine, gmail_router),
        *hosted_routes(engine),
        *gmail_router.routes,
    ]
    if grpc:
        from .grpc_face import grpc_routes

        routes += grpc_routes(engine)
    # Host names served besides loopback ones (serve() adds the one it binds).
    served_hosts = {served_host(engine.public_url)} if engine.public_url else set()
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(WebGuard, hosts=served_hosts),
            Middleware(
                FaultMiddleware,
                faults=engine.faults,
                log=engine.request_log,
                authenticated=engine_authenticates(engine),
            ),
        ],
        exception_handlers={
            ApiError: _api_error,
            GmailError: _gmail_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
    )
    app.state.sandbox = engine
    app.state.served_hosts = served_hosts
    _quiet_uvicorn_about_drops()
    return app
