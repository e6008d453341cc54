"""Injected faults and the request log, and the ASGI middleware that applies both.

Per process, in memory. The middleware is plain ASGI (no Starlette) because a `drop` fault
must start a response and then abandon it, which a response object cannot express.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import threading
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from ..scalekit.secrets import is_secret_name, mask_url_params
from .errors import HTTP_TO_GRPC, gateway_error_body, google_error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FAULT_KINDS = ("status", "drop", "latency", "not_json", "mutate")
ADMIN_PREFIX = "/_sandbox"
REQUEST_LOG_LIMIT = 10_000
# The log keeps this much of an (authenticated) body; memory stays bounded by count × this.
LOGGED_BODY_LIMIT = 256 * 1024
Authenticated = Callable[[str, dict[str, str], bytes], bool]

# `mutate` faults: what they do to the answer the sandbox was about to send.
MUTATIONS = ("strings", "replace", "deep", "oversized")
# The default text a `strings` mutation plants: a title change (OSC), a screen clear (CSI),
# a bare C1 CSI, bidi overrides and isolates, and a line that forges a second `sk:` line.
HOSTILE_TEXT = "\x1b]0;PWNED\x07\x1b[2J\u009b31m\u202egnp.exe\u2066\r\nsk: all good, exit 0"


def redacted_marker(value: str) -> str:
    """What the request log shows instead of a secret: a fingerprint, so a test can still tell
    which secret travelled where without the log holding it."""
    import hashlib

    # surrogatepass: a JSON body's `"\ud800"` is a str no codec writes as UTF-8.
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"[redacted-sha256:{digest[:16]}]"


# Headers, body fields and query parameters with a secret name (`is_secret_name`, the one
# definition sk's outputs share): the log keeps a fingerprint of their value, never the value
# (any loopback caller may read the log, and a live machine token opens the sandbox's API).


def loggable_header(name: str, value: str) -> str:
    """A header as the log keeps it: a credential's value fingerprinted, its scheme kept
    (`Bearer [redacted-sha256:…]`), so a test can still tell which token was sent."""
    if not is_secret_name(name):
        return value
    scheme, space, credential = value.partition(" ")
    if space and scheme.isalpha() and credential:
        return f"{scheme} {redacted_marker(credential)}"
    return redacted_marker(value)


def loggable_query(query: str) -> str:
    """A query string as the log keeps it: secret-named parameters' values fingerprinted
    (`?access_token=`, `?key=`), the rest verbatim."""
    return mask_url_params(query, redacted_marker)


def loggable_body(body: bytes, content_type: str) -> str:
    """A body as the log keeps it: secret fields (JSON or form) fingerprinted, truncated."""
    text = body.decode("utf-8", errors="replace")
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        from urllib.parse import parse_qsl, urlencode

        pairs = parse_qsl(text, keep_blank_values=True)
        text = urlencode(
            [(k, redacted_marker(v) if is_secret_name(k, in_url=True) else v) for k, v in pairs],
            safe="[]:",
        )
    elif text.strip():
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            pass
        else:
            text = json.dumps(_redacted(document), ensure_ascii=False)
    if len(text) > LOGGED_BODY_LIMIT:
        text = text[:LOGGED_BODY_LIMIT] + f"…[{len(text) - LOGGED_BODY_LIMIT} more characters]"
    return text


def _redacted(document: Any, depth: int = 0) -> Any:
    if depth > 64:
        return "[nested too deep]"
    if isinstance(document, dict):
        return {
            key: redacted_marker(value)
            if isinstance(value, str) and is_secret_name(str(key))
            else _redacted(value, depth + 1)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [_redacted(item, depth + 1) for item in document]
    return document


class DroppedConnection(Exception):
    """Raised after a `drop` fault has started its response, so the server cuts the socket."""


class FaultSpecError(ValueError):
    pass


@dataclass
class Fault:
    id: str
    path: str
    kind: str
    method: str | None = None
    status: int | None = None
    times: int | None = None  # None: for ever
    latency_ms: int = 0
    retry_after: int | None = None
    after: int = 0  # let this many matching requests through before the fault applies
    mutation: str | None = None  # for `mutate`: one of MUTATIONS
    payload: str = HOSTILE_TEXT  # `strings`: appended to every string value (of `keys`)
    keys: list[str] | None = None  # `strings`: only values under these keys (None: all)
    body: Any = None  # `replace`: the JSON answer instead
    depth: int = 0  # `deep`: arrays nested this deep beside the answer's own members
    size: int = 0  # `oversized`: characters of padding added to the answer
    hits: int = 0
    passed: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _optional_int(spec: dict[str, Any], name: str, minimum: int) -> int | None:
    value = spec.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise FaultSpecError(f"{name} must be an integer >= {minimum}")
    return value


def fault_from_spec(spec: Any) -> Fault:
    """Validate an admin `POST /_sandbox/faults` body."""
    if not isinstance(spec, dict):
        raise FaultSpecError("the body must be a JSON object")
    path, kind = spec.get("path"), spec.get("kind")
    if not isinstance(path, str) or not path.startswith("/"):
        raise FaultSpecError(
            "path must be a string starting with '/' (a trailing '*' matches a prefix)"
        )
    if kind not in FAULT_KINDS:
        raise FaultSpecError(f"kind must be one of {', '.join(FAULT_KINDS)}")
    method = spec.get("method")
    if method is not None and not isinstance(method, str):
        raise FaultSpecError("method must be a string")
    status = _optional_int(spec, "status", 100)
    if kind == "status" and (status is None or status > 599):
        raise FaultSpecError("a status fault needs status (100-599)")
    mutation = spec.get("mutation")
    if kind == "mutate" and mutation not in MUTATIONS:
        raise FaultSpecError(f"a mutate fault needs mutation: one of {', '.join(MUTATIONS)}")
    payload, keys = spec.get("payload", HOSTILE_TEXT), spec.get("keys")
    if not isinstance(payload, str):
        raise FaultSpecError("payload must be a string")
    if keys is not None and not (
        isinstance(keys, list) and all(isinstance(key, str) for key in keys)
    ):
        raise FaultSpecError("keys must be a list of strings")
    return Fault(
        id="flt_" + secrets.token_hex(6),
        path=path,
        kind=kind,
        method=method.upper() if method else None,
        status=status,
        times=_optional_int(spec, "times", 0),
        latency_ms=_optional_int(spec, "latency_ms", 0) or 0,
        retry_after=_optional_int(spec, "retry_after", 0),
        after=_optional_int(spec, "after", 0) or 0,
        mutation=mutation if kind == "mutate" else None,
        payload=payload,
        keys=keys,
        body=spec.get("body"),
        depth=_optional_int(spec, "depth", 0) or 0,
        size=_optional_int(spec, "size", 0) or 0,
    )


class FaultRegistry:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_json() for fault in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [fault for fault in self._faults if fault.id != fault_id]
            return len(self._faults) != before

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault that applies to this request, counting the hit."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    if fault.passed < fault.after:
                        fault.passed += 1
                        continue
                    fault.hits += 1
                    return fault
        return None


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


class RequestLog:
    def __init__(self) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=REQUEST_LOG_LIMIT)
        self._lock = threading.Lock()

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(entry) for entry in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def mutated(answer: Any, fault: Fault) -> Any:
    """A `strings` or `oversized` mutation of a JSON answer (`deep` is done on the text)."""
    if fault.mutation == "oversized":
        if isinstance(answer, dict):
            return {**answer, "sk_padding": "x" * fault.size}
        return answer

    def plant(value: Any, key: str | None) -> Any:
        if isinstance(value, dict):
            return {k: plant(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [plant(item, key) for item in value]
        if isinstance(value, str) and (fault.keys is None or key in fault.keys):
            return value + fault.payload
        return value

    return plant(answer, None) if fault.mutation == "strings" else answer


def _header_dict(raw_headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in raw_headers:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


async def _send_body(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    all_headers = [(b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


def is_grpc_request(headers: dict[str, str]) -> bool:
    """gRPC proper (HTTP/2, status in trailers), not gRPC-Web, whose status is in the body."""
    content_type = headers.get("content-type", "")
    return content_type.startswith("application/grpc") and not content_type.startswith(
        "application/grpc-web"
    )


async def _answer_grpc_status(send: Send, fault: Fault) -> None:
    """A status fault as a gRPC server answers it: no message, and trailers with the gRPC
    code that the HTTP status stands for (503 -> UNAVAILABLE)."""
    status = fault.status or 500
    message = quote(f"sandbox fault {fault.id}: injected HTTP {status}", safe="")
    start = [(b"content-type", b"application/grpc")]
    trailers = [
        (b"grpc-status", str(HTTP_TO_GRPC.get(status, 2)).encode()),
        (b"grpc-message", message.encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": start, "trailers": True})
    await send({"type": "http.response.body", "body": b""})
    await send({"type": "http.response.trailers", "headers": trailers})


class FaultMiddleware:
    """Logs every non-admin request and applies the first matching fault before routing."""

    def __init__(
        self,
        app: ASGIApp,
        faults: FaultRegistry,
        log: RequestLog,
        authenticated: Authenticated = lambda path, headers, body: False,
    ) -> None:
        self.app = app
        self.faults = faults
        self.log = log
        self.authenticated = authenticated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        # Read the whole body once, for the log, then hand the same bytes to the app.
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        headers = _header_dict(scope.get("headers", []))
        # Only a caller that proved who it is gets its body kept (bounded, secrets redacted):
        # anyone else could fill the sandbox's memory, or plant text in its log.
        kept = body and self.authenticated(scope["path"], headers, body)
        self.log.record(
            LoggedRequest(
                method=scope["method"],
                path=scope["path"],
                query=loggable_query(scope.get("query_string", b"").decode("latin-1")),
                headers={name: loggable_header(name, value) for name, value in headers.items()},
                body=loggable_body(body, headers.get("content-type", "")) if kept else "",
            )
        )
        replay = replaying(body, receive)
        fault = self.faults.take(scope["method"], scope["path"])
        if fault is None:
            await self.app(scope, replay, send)
            return
        if fault.latency_ms:
            await asyncio.sleep(fault.latency_ms / 1000)
        if fault.kind == "latency":
            await self.app(scope, replay, send)
        elif fault.kind == "status" and is_grpc_request(headers):
            await _answer_grpc_status(send, fault)
        elif fault.kind == "mutate":
            await self._answer_mutated(scope, replay, send, fault)
        elif fault.kind == "status":
            await self._answer_status(scope, send, fault)
        elif fault.kind == "not_json":
            page = b"<html><body><h1>502 Bad Gateway</h1><p>upstream hiccup</p></body></html>"
            await _send_body(send, 200, page, [(b"content-type", b"text/html; charset=utf-8")])
        else:  # drop
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"partial": ', "more_body": True})
            raise DroppedConnection(f"fault {fault.id} dropped {scope['method']} {scope['path']}")

    async def _answer_mutated(
        self, scope: Scope, receive: Receive, send: Send, fault: Fault
    ) -> None:
        """Let the app answer, then send its answer changed as the fault says."""
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        status = start.get("status", 200)
        headers = [
            (name, value)
            for name, value in start.get("headers", [])
            if name.lower() not in (b"content-length", b"content-type")
        ]
        content_type = dict(start.get("headers", [])).get(b"content-type", b"")
        boundary = _BATCH_BOUNDARY.search(content_type)
        if fault.mutation != "replace" and boundary is not None:
            # Gmail's batch answer: each part's JSON is changed as a lone answer would be.
            body = _mutated_batch(b"".join(chunks), b"--" + boundary.group(1), fault)
            await _send_body(send, status, body, [*headers, (b"content-type", content_type)])
            return
        if fault.mutation == "replace":
            answer: Any = fault.body
            status = fault.status or status
        else:
            try:
                answer = json.loads(b"".join(chunks))
            except ValueError:  # not JSON (a hosted page): left alone
                await _send_body(send, status, b"".join(chunks), list(start.get("headers", [])))
                return
        body = _mutated_json(answer, fault)
        await _send_body(send, status, body, [*headers, (b"content-type", b"application/json")])

    async def _answer_status(self, scope: Scope, send: Send, fault: Fault) -> None:
        status = fault.status or 500
        message = f"sandbox fault {fault.id}: injected HTTP {status}"
        if scope["path"].startswith("/gmail/"):
            payload: dict[str, Any] = google_error_body(status, message)
        elif scope["path"].startswith("/oauth/"):
            payload = {"error": "server_error", "error_description": message}
        else:
            payload = gateway_error_body(HTTP_TO_GRPC.get(status, 2), message)
        headers = [(b"content-type", b"application/json")]
        if status == 429 or fault.retry_after is not None:
            # `retry_after: 0` is a valid request ("retry at once"), not a missing value.
            seconds = 1 if fault.retry_after is None else fault.retry_after
            headers.append((b"retry-after", str(seconds).encode()))
        await _send_body(send, status, json.dumps(payload).encode(), headers)


_BATCH_BOUNDARY = re.compile(rb'^multipart/mixed;.*boundary="?([^";]+)"?', re.IGNORECASE)


def _mutated_json(answer: Any, fault: Fault) -> bytes:
    """One JSON answer as the fault says (`replace` has already chosen it)."""
    if fault.mutation != "replace":
        answer = mutated(answer, fault)
    body = json.dumps(answer, ensure_ascii=False).encode()
    if fault.mutation == "deep":
        # Nested past any recursive parser's stack: written as text, not built as objects.
        nested = b"[" * fault.depth + b"]" * fault.depth
        if body.startswith(b"{") and body != b"{}":
            body = body[:-1] + b', "sk_nested": ' + nested + b"}"
        else:
            body = b'{"sk_nested": ' + nested + b"}"
    return body


def _mutated_batch(body: bytes, delimiter: bytes, fault: Fault) -> bytes:
    """A multipart/mixed batch answer with each part's JSON body mutated; each part's body
    follows the last blank line of its HTTP response, and ends with the line break before
    the next delimiter."""
    pieces = body.split(delimiter)
    for index, piece in enumerate(pieces[1:], start=1):
        head, blank, payload = piece.rpartition(b"\r\n\r\n")
        if not blank:
            continue  # the closing delimiter's `--`
        try:
            answer = json.loads(payload)
        except ValueError:
            continue
        pieces[index] = head + blank + _mutated_json(answer, fault) + b"\r\n"
    return delimiter.join(pieces)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands on a body already read whole, then what the client sends next
    (a disconnect): how a middleware that read the body lets the app read it again."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
