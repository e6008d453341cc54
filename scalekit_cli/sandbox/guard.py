"""The sandbox refuses the web: what a page in the user's browser could otherwise do to it.

A page from any site can make the browser send requests to 127.0.0.1, and a DNS-rebinding
page can even read the answers (its own host name resolves to 127.0.0.1). So, before routing:

- every request body over MAX_BODY_BYTES is refused with 413 before it is read whole;
- the admin surface and the hosted page's form posts answer only a `Host` that is a loopback
  name or address, or one this server was told it serves (rebinding sends the attacker's);
- they refuse cross-site requests: an `Origin` other than the request's own, or a
  `Sec-Fetch-Site` other than `same-origin` / `none`;
- an admin call with a body must say `Content-Type: application/json`, which no cross-site
  form can send without a CORS preflight (that the sandbox never grants).

Plain ASGI, like the fault middleware, so that a refusal never reads the body.
"""

from __future__ import annotations

import ipaddress
import json
from urllib.parse import urlsplit

from .admin import is_loopback
from .faults import ADMIN_PREFIX, ASGIApp, Receive, Scope, Send, replaying

MAX_BODY_BYTES = 1024 * 1024
HOSTED_PREFIX = "/magic/"
_SAFE_FETCH_SITES = ("same-origin", "none")


def host_name(host_header: str) -> str:
    """The name of a `Host` value (`[::1]:8765` → `::1`), lower-case."""
    try:
        return (urlsplit(f"//{host_header}").hostname or "").lower()
    except ValueError:
        return ""


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _is_loopback_name(name: str) -> bool:
    return name == "localhost" or name.endswith(".localhost") or is_loopback(name)


def served_host(url_or_host: str) -> str:
    """The host name a `public_url` or a `--host` value names."""
    if "//" in url_or_host:
        return (urlsplit(url_or_host).hostname or "").lower()
    return url_or_host.strip("[]").lower()


class WebGuard:
    """ASGI middleware applying the rules above. `hosts` (shared, so names can be added while
    serving: `app.state.served_hosts`) are the names it serves besides loopback ones."""

    def __init__(self, app: ASGIApp, hosts: set[str]) -> None:
        self.app = app
        self.hosts = hosts

    def refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        """Why this request may not reach the admin surface or a hosted form; None if it may."""
        path, method = scope["path"], scope["method"]
        admin = path.startswith(ADMIN_PREFIX)
        if not (admin or (path.startswith(HOSTED_PREFIX) and method == "POST")):
            return None
        host = headers.get("host", "")
        name = host_name(host)
        # Bound to every interface (a phone opening the link on the LAN), any address of this
        # machine may be named; an address is never a rebinding (that needs a name to re-point).
        wildcard = bool(self.hosts & {"0.0.0.0", "::"}) and _is_address(name)
        if not (_is_loopback_name(name) or name in self.hosts or wildcard):
            return 403, f"the Host {host!r} is not this sandbox's (DNS rebinding?)"
        origin = headers.get("origin")
        if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
            return 403, f"cross-site request from Origin {origin!r} refused"
        site = headers.get("sec-fetch-site")
        if site is not None and site not in _SAFE_FETCH_SITES:
            return 403, f"cross-site request refused (Sec-Fetch-Site: {site})"
        if admin and method not in ("GET", "HEAD"):
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
            if (kind or has_body) and kind != "application/json":
                return 415, "the admin surface takes application/json only"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope.get("headers", [])
        }
        refused = self.refusal(scope, headers)
        if refused is not None:
            await _refuse(send, *refused)
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            await _refuse(send, 413, f"the request body is over {MAX_BODY_BYTES} bytes")
            return
        # Read at most the limit (a chunked body declares no length), then replay it.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                await _refuse(send, 413, f"the request body is over {MAX_BODY_BYTES} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replay = replaying(body, receive)
        await self.app(scope, replay, send)


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
