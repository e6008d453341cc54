"""The provider faces `/proxy` reaches besides Gmail (gmail.py): Google Calendar v3, Slack's
Web API, Notion, GitHub and Exa, each on the provider's own paths and in its own answer and
error shapes, for what the sandbox emulates of it.

They read and write the state the tools use (apps.py, through `SandboxEngine.app_context`):
an event created through the proxy is listed by `googlecalendar_list_events`, a message the
tool posts is in `conversations.history`. Each face authenticates the credential the proxy
sends as its provider would (provider_auth.py): an account's access token or its static
credentials.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from . import apps
from .engine import SandboxEngine
from .errors import (
    GOOGLE_INVALID_CREDENTIALS,
    GOOGLE_MISSING_CREDENTIALS,
    GOOGLE_WWW_AUTHENTICATE,
    ToolInputError,
    google_error_body,
)
from .mailbox import mailbox_address
from .provider_auth import Unauthenticated, provider_account
from .store import AccountRecord
from .tools import ToolContext, _exa_search, _github_get_user


class ProviderError(Exception):
    """An answer of a provider face other than success, in that provider's shape."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers


Handler = Callable[[Request], Awaitable[Any]]


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return JSONResponse(await handler(request))
        except ProviderError as error:
            return JSONResponse(error.body, status_code=error.status, headers=error.headers)

    return endpoint


def _fallback(status: int, body: Any) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def unknown_path(scope: Scope, receive: Receive, send: Send) -> None:
        await JSONResponse(body, status_code=status)(scope, receive, send)

    return unknown_path


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw, parse_constant=_no_constant)
        # A lone surrogate (`"\ud800"`) parses, but no answer or stored row can carry it.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):  # the Unicode errors are ValueErrors
        return None
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _int(raw: str | None, default: int, low: int, high: int) -> int | None:
    """A count parameter: None when it is not an integer in [low, high]."""
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if low <= value <= high else None


# --- Google Calendar v3 ----------------------------------------------------------------------


def _google(status: int, message: str) -> ProviderError:
    headers = {"www-authenticate": GOOGLE_WWW_AUTHENTICATE} if status == 401 else None
    return ProviderError(status, google_error_body(status, message), headers)


def _calendar_time(value: Any, where: str) -> datetime:
    if not isinstance(value, dict) or "dateTime" not in value:
        if isinstance(value, dict) and "date" in value:
            raise _google(400, f"{where}: the sandbox emulates timed events only (dateTime)")
        raise _google(400, f"Missing {where} time.")
    try:
        return apps.parse_time(str(value["dateTime"]), f"{where}.dateTime")
    except ToolInputError as error:
        raise _google(400, str(error)) from error


def build_calendar_router(engine: SandboxEngine) -> Router:
    def calendar(request: Request) -> ToolContext:
        try:
            account = provider_account(
                engine, "googlecalendar", request.headers.get("authorization"), request.scope
            )
        except Unauthenticated as refusal:
            message = GOOGLE_MISSING_CREDENTIALS if refusal.missing else GOOGLE_INVALID_CREDENTIALS
            raise _google(401, message) from None
        # One calendar per account: `primary`, also named by the account's address.
        if request.path_params["calendar_id"] not in (
            "primary",
            mailbox_address(account.identifier),
        ):
            raise _google(404, "Not Found")
        return engine.app_context(account)

    async def list_events(request: Request) -> Any:
        context = calendar(request)
        params = request.query_params
        try:
            lower = apps.parse_time(params["timeMin"], "timeMin") if "timeMin" in params else None
            upper = apps.parse_time(params["timeMax"], "timeMax") if "timeMax" in params else None
            offset = apps.offset_token(params.get("pageToken"), "pageToken")
        except ToolInputError as error:
            raise _google(400, str(error)) from error
        limit = _int(params.get("maxResults"), 250, 1, 2500)
        if limit is None:
            raise _google(400, f"Invalid value for maxResults: {params['maxResults']}")
        events = apps.calendar_events(context, lower, upper, params.get("q", ""))
        return apps.calendar_page(context, events, offset, limit)

    async def insert_event(request: Request) -> Any:
        context = calendar(request)
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise _google(400, "Parse Error")
        start = _calendar_time(body.get("start"), "start")
        end = _calendar_time(body.get("end"), "end")
        if end <= start:
            raise _google(400, "The specified time range is empty.")
        attendees = body.get("attendees") or []
        if not isinstance(attendees, list):
            raise _google(400, "Invalid value for: attendees")
        emails = [a.get("email") if isinstance(a, dict) else None for a in attendees]
        if not all(isinstance(email, str) and "@" in email for email in emails):
            raise _google(400, "Invalid attendee email.")
        texts = {name: body.get(name, "") for name in ("summary", "description", "location")}
        for name, value in texts.items():
            if not isinstance(value, str):
                raise _google(400, f"Invalid value for: {name}")
        return apps.calendar_add_event(
            context,
            texts["summary"],
            start,
            end,
            description=texts["description"],
            location=texts["location"],
            attendees=emails,
        )

    async def get_event(request: Request) -> Any:
        context = calendar(request)
        event = apps.calendar_event(context, request.path_params["event_id"])
        if event is None:
            raise _google(404, "Not Found")
        return event

    events = "/calendar/v3/calendars/{calendar_id}/events"
    return Router(
        routes=[
            Route(events, _endpoint(list_events), methods=["GET"]),
            Route(events, _endpoint(insert_event), methods=["POST"]),
            Route(events + "/{event_id}", _endpoint(get_event), methods=["GET"]),
        ],
        default=_fallback(404, google_error_body(404, "Not Found")),
    )


# --- Slack Web API ---------------------------------------------------------------------------

SLACK_TEXT_LIMIT = 40000  # chat.postMessage's msg_too_long


def _slack(error: str) -> ProviderError:
    # Slack answers API-level failures with HTTP 200 and `ok: false`.
    return ProviderError(200, {"ok": False, "error": error})


async def _slack_arguments(request: Request) -> dict[str, Any]:
    """A method's arguments: the query string, then a form or JSON body (Slack takes any)."""
    arguments: dict[str, Any] = dict(request.query_params)
    raw = await request.body()
    if "json" in request.headers.get("content-type", ""):
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise _slack("invalid_json")
        arguments.update(body)
    elif raw:
        arguments.update(parse_qsl(raw.decode("utf-8", "replace")))
    return arguments


def build_slack_router(engine: SandboxEngine) -> Router:
    async def call(request: Request) -> Any:
        arguments = await _slack_arguments(request)
        authorization = request.headers.get("authorization")
        if not authorization and isinstance(arguments.get("token"), str):
            authorization = f"Bearer {arguments['token']}"
        try:
            account = provider_account(engine, "slack", authorization, request.scope)
        except Unauthenticated as refusal:
            raise _slack(
                "not_authed"
                if refusal.missing
                else "token_revoked"
                if refusal.revoked
                else "invalid_auth"
            ) from None
        method = SLACK_METHODS.get(request.path_params["method"])
        if method is None:
            raise _slack("unknown_method")
        return method(engine.app_context(account), arguments)

    return Router(
        routes=[Route("/api/{method}", _endpoint(call), methods=["GET", "POST"])],
        default=_fallback(404, {"ok": False, "error": "unknown_method"}),
    )


def _cursor(arguments: dict[str, Any]) -> int:
    try:
        return apps.offset_token(arguments.get("cursor"), "cursor")
    except ToolInputError:
        raise _slack("invalid_cursor") from None


def _limit(arguments: dict[str, Any], default: int, high: int) -> int:
    limit = _int(str(arguments.get("limit", "")), default, 1, high)
    if limit is None:
        raise _slack("invalid_limit")
    return limit


def _channel(context: ToolContext, arguments: dict[str, Any]) -> tuple[apps.Workspace, dict]:
    workspace = apps.slack_workspace(context)
    wanted = arguments.get("channel")
    channel = workspace.find(wanted) if isinstance(wanted, str) and wanted else None
    if channel is None:
        raise _slack("channel_not_found")
    return workspace, channel


def _conversations_list(context: ToolContext, arguments: dict[str, Any]) -> dict[str, Any]:
    offset = _cursor(arguments)
    return apps.slack_channels_page(context, offset, _limit(arguments, 100, 1000))


def _conversations_history(context: ToolContext, arguments: dict[str, Any]) -> dict[str, Any]:
    _, channel = _channel(context, arguments)
    offset, limit = _cursor(arguments), _limit(arguments, 100, 999)
    messages = apps.slack_history(context, channel)
    following = str(offset + limit) if offset + limit < len(messages) else ""
    return {
        "ok": True,
        "messages": messages[offset : offset + limit],
        "has_more": bool(following),
        "pin_count": 0,
        "response_metadata": {"next_cursor": following},
    }


def _post_message(context: ToolContext, arguments: dict[str, Any]) -> dict[str, Any]:
    workspace, channel = _channel(context, arguments)
    text = arguments.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _slack("no_text")
    if len(text) > SLACK_TEXT_LIMIT:
        raise _slack("msg_too_long")
    return apps.slack_post(context, workspace, channel, text)


SLACK_METHODS: dict[str, Callable[[ToolContext, dict[str, Any]], dict[str, Any]]] = {
    "conversations.list": _conversations_list,
    "conversations.history": _conversations_history,
    "chat.postMessage": _post_message,
}


# --- Notion ----------------------------------------------------------------------------------


def _notion(status: int, code: str, message: str) -> ProviderError:
    return ProviderError(
        status, {"object": "error", "status": status, "code": code, "message": message}
    )


def build_notion_router(engine: SandboxEngine) -> Router:
    def workspace(request: Request) -> AccountRecord:
        try:
            return provider_account(
                engine, "notion", request.headers.get("authorization"), request.scope
            )
        except Unauthenticated:
            raise _notion(401, "unauthorized", "API token is invalid.") from None

    async def search(request: Request) -> Any:
        account = workspace(request)
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise _notion(400, "invalid_json", "Error parsing JSON body.")
        size = body.get("page_size", 10)
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 100:
            raise _notion(
                400,
                "validation_error",
                f"body failed validation: body.page_size should be ≤ `100`, instead was `{size}`.",
            )
        query = body.get("query", "")
        wanted = (
            body.get("filter", {}).get("value") if isinstance(body.get("filter"), dict) else None
        )
        answer = apps.notion_search(
            engine.app_context(account),
            query if isinstance(query, str) else "",
            body.get("start_cursor"),
            size,
        )
        if answer is None:
            raise _notion(400, "validation_error", "The start_cursor provided is invalid.")
        if wanted == "database":  # the sandbox's workspace holds pages only
            answer = {**answer, "results": [], "next_cursor": None, "has_more": False}
        return answer

    async def get_page(request: Request) -> Any:
        account = workspace(request)
        raw = request.path_params["page_id"]
        try:
            page_id = str(uuid.UUID(raw))
        except ValueError:
            raise _notion(
                400,
                "validation_error",
                "path failed validation: path.page_id should be a valid uuid, "
                f'instead was `"{raw}"`.',
            ) from None
        for page in apps.notion_pages(engine.app_context(account)):
            if page["id"] == page_id:
                return page
        raise _notion(
            404,
            "object_not_found",
            f"Could not find page with ID: {page_id}. Make sure the relevant pages and "
            "databases are shared with your integration.",
        )

    return Router(
        routes=[
            Route("/v1/search", _endpoint(search), methods=["POST"]),
            Route("/v1/pages/{page_id}", _endpoint(get_page), methods=["GET"]),
        ],
        default=_fallback(
            400,
            {
                "object": "error",
                "status": 400,
                "code": "invalid_request_url",
                "message": "Invalid request URL.",
            },
        ),
    )


# --- GitHub and Exa: the canned answers of their tools, behind their credentials --------------


def build_github_router(engine: SandboxEngine) -> Router:
    documentation = "https://docs.github.com/rest"

    async def user(request: Request) -> Any:
        try:
            account = provider_account(
                engine, "github", request.headers.get("authorization"), request.scope
            )
        except Unauthenticated as refusal:
            message = "Requires authentication" if refusal.missing else "Bad credentials"
            raise ProviderError(
                401, {"message": message, "documentation_url": documentation}
            ) from None
        return _github_get_user(engine.app_context(account), {})

    return Router(
        routes=[Route("/user", _endpoint(user), methods=["GET"])],
        default=_fallback(404, {"message": "Not Found", "documentation_url": documentation}),
    )


def build_exa_router(engine: SandboxEngine) -> Router:
    async def search(request: Request) -> Any:
        # Exa takes its key as `x-api-key` too.
        key = request.headers.get("x-api-key")
        authorization = request.headers.get("authorization") or (key and f"Bearer {key}")
        try:
            account = provider_account(engine, "exa", authorization, request.scope)
        except Unauthenticated as refusal:
            message = "Missing API key" if refusal.missing else "Invalid API key"
            raise ProviderError(401, {"error": message}) from None
        body = await _json_body(request)
        query = body.get("query") if isinstance(body, dict) else None
        count = body.get("numResults", 3) if isinstance(body, dict) else None
        if not isinstance(query, str) or not query.strip():
            raise ProviderError(400, {"error": "query is required"})
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 10:
            raise ProviderError(400, {"error": "numResults must be an integer from 1 to 10"})
        return _exa_search(engine.app_context(account), {"query": query, "num_results": count})

    return Router(
        routes=[Route("/search", _endpoint(search), methods=["POST"])],
        default=_fallback(404, {"error": "Not Found"}),
    )


def build_app_routers(engine: SandboxEngine) -> dict[str, Router]:
    """The provider face of each emulated app but Gmail, by `Connection.app`."""
    return {
        "googlecalendar": build_calendar_router(engine),
        "slack": build_slack_router(engine),
        "notion": build_notion_router(engine),
        "github": build_github_router(engine),
        "exa": build_exa_router(engine),
    }
