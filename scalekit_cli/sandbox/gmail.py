"""Gmail's REST API, the part the CLI uses, per Google's discovery document.

`users.messages.list`, `users.messages.get` and `users.getProfile`, authorised by the current
access token of an ACTIVE Google connected account. Errors use Google's error body.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from .engine import SandboxEngine
from .errors import (
    GOOGLE_INVALID_CREDENTIALS,
    GOOGLE_MISSING_CREDENTIALS,
    GmailError,
    google_error_body,
)
from .mailbox import MailMessage, b64url
from .store import AccountRecord
from .tools import gmail_profile
from .web import bearer_token

DEFAULT_MAX_RESULTS = 100
MAX_MAX_RESULTS = 500
FORMATS = ("minimal", "full", "raw", "metadata")


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"sbx:{offset}".encode()).decode().rstrip("=")


def _offset_from_token(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()).decode()
        prefix, _, number = text.partition(":")
        if prefix != "sbx" or not number.isdigit():
            raise ValueError(token)
        return int(number)
    except ValueError as error:
        raise GmailError(400, "Invalid pageToken") from error


def _message_resource(
    message: MailMessage, message_format: str, wanted: list[str]
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "id": message.id,
        "threadId": message.thread_id,
        "labelIds": list(message.label_ids),
        "snippet": message.snippet,
        "sizeEstimate": message.size_estimate,
        "historyId": str(message.history_id),
        "internalDate": str(message.internal_date_ms),
    }
    headers = [{"name": name, "value": value} for name, value in message.headers()]
    if message_format == "metadata":
        if wanted:
            folded = {name.casefold() for name in wanted}
            headers = [header for header in headers if header["name"].casefold() in folded]
        resource["payload"] = {"mimeType": "text/plain", "headers": headers}
    elif message_format == "full":
        body = message.body.encode("utf-8")
        resource["payload"] = {
            "partId": "",
            "mimeType": "text/plain",
            "filename": "",
            "headers": headers,
            "body": {"size": len(body), "data": b64url(body)},
        }
    elif message_format == "raw":
        resource["raw"] = b64url(message.rfc2822())
    return resource


def _google_json(payload: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(payload, status_code=status)


def build_gmail_router(engine: SandboxEngine) -> Router:
    def authorised_account(request: Request) -> AccountRecord:
        token = bearer_token(request)
        if token is None:
            raise GmailError(401, GOOGLE_MISSING_CREDENTIALS)
        account = engine.gmail_account(token)
        if account is None:
            raise GmailError(401, GOOGLE_INVALID_CREDENTIALS)
        user_id = request.path_params["user_id"]
        mailbox = engine.mailbox_for(account)
        if user_id not in ("me", mailbox.address):
            raise GmailError(403, f"Delegation denied for {mailbox.address}")
        return account

    async def list_messages(request: Request) -> Response:
        account = authorised_account(request)
        params = request.query_params
        raw_max = params.get("maxResults")
        try:
            max_results = int(raw_max) if raw_max not in (None, "") else DEFAULT_MAX_RESULTS
        except ValueError as error:
            raise GmailError(400, f"Invalid value for maxResults: {raw_max}") from error
        if max_results < 0:
            raise GmailError(400, f"Invalid value for maxResults: {raw_max}")
        max_results = min(max_results or DEFAULT_MAX_RESULTS, MAX_MAX_RESULTS)
        offset = _offset_from_token(params["pageToken"]) if params.get("pageToken") else 0
        matches = engine.mailbox_for(account).search(
            params.get("q", ""), params.getlist("labelIds"), now=engine.now_datetime()
        )
        page = matches[offset : offset + max_results]
        answer: dict[str, Any] = {}
        if page:  # Gmail leaves the key out when nothing matches
            answer["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in page]
        if offset + max_results < len(matches):
            answer["nextPageToken"] = _page_token(offset + max_results)
        answer["resultSizeEstimate"] = len(matches)
        return _google_json(answer)

    async def get_message(request: Request) -> Response:
        account = authorised_account(request)
        message_format = request.query_params.get("format", "full").lower()
        if message_format not in FORMATS:
            raise GmailError(400, f"Invalid value for format: {message_format}")
        message = engine.mailbox_for(account).get(request.path_params["message_id"])
        if message is None:
            raise GmailError(404, "Requested entity was not found.")
        wanted = request.query_params.getlist("metadataHeaders")
        return _google_json(_message_resource(message, message_format, wanted))

    async def get_profile(request: Request) -> Response:
        account = authorised_account(request)
        return _google_json(gmail_profile(engine.mailbox_for(account)))

    router = Router(
        routes=[
            Route("/gmail/v1/users/{user_id}/messages", list_messages, methods=["GET"]),
            Route("/gmail/v1/users/{user_id}/messages/{message_id}", get_message, methods=["GET"]),
            Route("/gmail/v1/users/{user_id}/profile", get_profile, methods=["GET"]),
        ],
        default=_gmail_not_found,
    )

    async def batch(request: Request) -> Response:
        return await run_batch(request, router)

    # The discovery document's batchPath; the batch runs its parts through this same router.
    router.routes.append(Route("/batch/gmail/v1", batch, methods=["POST"]))
    return router


# --- batch: many calls in one multipart/mixed request ----------------------------------------

MAX_BATCH_PARTS = 100  # Google's limit per batch request


@dataclass
class _InnerRequest:
    content_id: str | None
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes


def _parse_inner_request(content_id: str | None, payload: bytes) -> _InnerRequest:
    head, _, body = payload.replace(b"\r\n", b"\n").lstrip(b"\n").partition(b"\n\n")
    request_line, *header_lines = head.decode("utf-8").split("\n")
    words = request_line.split()
    if len(words) < 2:
        raise GmailError(400, f"Invalid batch part request line: {request_line!r}")
    target = urlsplit(words[1])
    headers = []
    for line in header_lines:
        name, separator, value = line.partition(":")
        if separator:
            headers.append((name.strip().lower(), value.strip()))
    return _InnerRequest(content_id, words[0].upper(), target.path, target.query, headers, body)


async def _call(app: Router, scope: dict[str, Any], body: bytes) -> tuple[int, list, bytes]:
    """Run one request through an ASGI app in memory and collect its response."""
    status = 500
    headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status, headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    try:
        await app(scope, receive, send)
    except GmailError as error:  # raised by a part's handler; the outer app would map it
        status, chunks = error.status, [json.dumps(error.body()).encode()]
        headers = [(b"content-type", b"application/json; charset=UTF-8")]
    return status, headers, b"".join(chunks)


async def run_batch(request: Request, router: Router) -> Response:
    # Imported here: the email package costs ~10 ms, and only batch calls need it.
    import email.policy
    from email.parser import BytesParser

    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/mixed") or "boundary=" not in content_type:
        raise GmailError(400, "A batch request must be multipart/mixed with a boundary")
    envelope = BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + await request.body()
    )
    parts = [
        _parse_inner_request(part.get("Content-ID"), part.get_payload(decode=True) or b"")
        for part in envelope.iter_parts()
    ]
    if not parts:
        raise GmailError(400, "The batch request has no parts")
    if len(parts) > MAX_BATCH_PARTS:
        raise GmailError(400, f"A batch request may hold at most {MAX_BATCH_PARTS} calls")
    outer_authorization = request.headers.get("authorization")
    boundary = "batch_" + secrets.token_hex(12)
    out: list[bytes] = []
    for index, part in enumerate(parts):
        # The outer request's headers apply to every part unless the part sets its own.
        names = {name for name, _ in part.headers}
        headers = [
            (name.encode("latin-1"), value.encode("latin-1")) for name, value in part.headers
        ]
        if outer_authorization and "authorization" not in names:
            headers.append((b"authorization", outer_authorization.encode("latin-1")))
        scope = {
            **request.scope,
            "method": part.method,
            "path": part.path,
            "raw_path": part.path.encode(),
            "root_path": "",
            "query_string": part.query.encode("latin-1"),
            "headers": headers,
            "path_params": {},
        }
        for stale in ("router", "endpoint", "route"):
            scope.pop(stale, None)
        status, response_headers, body = await _call(router, scope, part.body)
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:  # a status HTTP has no phrase for
            reason = ""
        content_id = (part.content_id or f"<item{index}>").strip().strip("<>")
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines += [
            f"{name.decode('latin-1').title()}: {value.decode('latin-1')}"
            for name, value in response_headers
            if name.lower() != b"content-length"
        ]
        out.append(
            (
                f"--{boundary}\r\nContent-Type: application/http\r\n"
                f"Content-ID: <response-{content_id}>\r\n\r\n" + "\r\n".join(lines) + "\r\n\r\n"
            ).encode("utf-8")
            + body
            + b"\r\n"
        )
    out.append(f"--{boundary}--\r\n".encode())
    return Response(b"".join(out), media_type=f"multipart/mixed; boundary={boundary}")


async def _gmail_not_found(scope: Scope, receive: Receive, send: Send) -> None:
    body = json.dumps(google_error_body(404, "Requested entity was not found.")).encode()
    response = Response(body, status_code=404, media_type="application/json")
    await response(scope, receive, send)
