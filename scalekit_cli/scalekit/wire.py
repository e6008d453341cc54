"""The wire: HTTP/1.1 requests and answers on the standard library's `http.client`.

Why not httpx here: importing httpx, httpcore and h11 costs more than a warm `sk token`'s
whole run (its one request included), and this library needs none of what they add over
`http.client` — no HTTP/2, no async. What this module owns: building a request (query, JSON
and form bodies, header and URL checks), keep-alive connections pooled per origin (safe across
threads), TLS verification, the proxy named by the environment, content decoding, and one
error type per kind of failure. Retries, tracing and their policy live in http.py, above any
transport; the embedded sandbox is another transport (sandbox/embedded.py) behind the same
`Transport` protocol.

TLS: servers are always verified. A CA bundle named by `SSL_CERT_FILE` or `REQUESTS_CA_BUNDLE`
(or a directory named by `SSL_CERT_DIR`) replaces certifi's, as with curl, requests and pip:
the way through a corporate proxy that re-signs TLS. Without certifi, the system's store.

Proxies: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (either case), as curl and
httpx read them; an http:// proxy (credentials in its URL become `Proxy-Authorization`), with
https tunnelled through CONNECT and verified end to end. Other proxy schemes are refused.
"""

from __future__ import annotations

import http.client
import os
import re
import select
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, unquote, urlencode, urlsplit

from .errors import ConfigurationError

if TYPE_CHECKING:
    import ssl

# Variables naming a CA bundle to verify servers with, in the order they are honoured.
CA_FILE_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
CA_DIR_VARIABLE = "SSL_CERT_DIR"
DEFAULT_PORTS = {"http": 80, "https": 443}
ACCEPT_ENCODING = "gzip, deflate"
# Idle keep-alive connections kept per origin (Gmail batches run a few at once).
MAX_IDLE_PER_ORIGIN = 20

# Said of a request that cannot be written; never with the value itself, which may be a token.
UNSENDABLE = "the request could not be sent: a header or the URL holds characters HTTP forbids"
CLOSED_EARLY = "the connection was closed before a complete answer"

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FORBIDDEN_IN_VALUE = re.compile(rb"[\x00\r\n]")
# Kept as they are in a request target: RFC 3986's reserved characters, '%' of an existing
# escape, and the unreserved '~'. Everything else (space, non-ASCII) is percent-encoded.
_TARGET_SAFE = "!#$%&'()*+,/:;=?@[]~"


# -- failures ---------------------------------------------------------------------------------


class TransportError(Exception):
    """No HTTP answer. `str()` is a short cause without URL, headers or values."""

    # The request provably never reached the server: any call may be sent again.
    never_sent = False
    # Sending the same request again could turn out differently.
    repeatable = True
    timed_out = False


class ConnectFailed(TransportError):
    never_sent = True


class ConnectTimedOut(TransportError):
    never_sent = True
    timed_out = True

    def __init__(self, timeout: float) -> None:
        super().__init__(f"could not connect within {timeout:g} s")


class AnswerTimedOut(TransportError):
    timed_out = True

    def __init__(self, timeout: float) -> None:
        super().__init__(f"no answer within {timeout:g} s (SK_HTTP_TIMEOUT)")


class ConnectionBroken(TransportError):
    """Closed or reset after the request went out, or an answer HTTP cannot parse."""


class Unsendable(TransportError):
    repeatable = False

    def __init__(self, reason: str = UNSENDABLE) -> None:
        super().__init__(reason)


class UndecodableBody(TransportError):
    def __init__(self) -> None:
        super().__init__("the answer's body could not be decoded (its Content-Encoding is broken)")


def untrusted_certificate(exc: Exception) -> ConnectFailed:
    detail = str(exc).rsplit("certificate verify failed:", 1)[-1].split("(_ssl", 1)[0]
    return ConnectFailed(
        f"TLS certificate verification failed ({detail.strip() or 'untrusted'}); behind "
        "a proxy that re-signs TLS, set SSL_CERT_FILE to its CA bundle"
    )


def os_cause(exc: OSError) -> str:
    """`[Errno 111] Connection refused` → `connection refused`."""
    cause = str(exc).split("] ", 1)[-1].strip() or "connection failed"
    return cause[0].lower() + cause[1:]


# -- messages ---------------------------------------------------------------------------------


class Headers(Mapping[str, str]):
    """Header fields in order; names lower-cased and compared so. As a mapping, a repeated
    field is one value joined with ", " (RFC 9110 §5.3); `get_all` gives each."""

    __slots__ = ("_fields",)

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self._fields = [(name.lower(), value) for name, value in fields]

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for field, value in self._fields if field == name]

    def __getitem__(self, name: str) -> str:
        values = self.get_all(name)
        if not values:
            raise KeyError(name)
        return ", ".join(values)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(field for field, _ in self._fields))

    def __len__(self) -> int:
        return len({field for field, _ in self._fields})

    def __repr__(self) -> str:
        return f"Headers({len(self._fields)} fields)"


class Request:
    """A request ready to write: `target` is the path and query as sent."""

    __slots__ = ("body", "fields", "host", "method", "port", "scheme", "target")

    def __init__(
        self,
        method: str,
        scheme: str,
        host: str,
        port: int,
        target: str,
        fields: list[tuple[str, bytes]],
        body: bytes | None,
    ) -> None:
        self.method = method
        self.scheme = scheme
        self.host = host
        self.port = port
        self.target = target
        self.fields = fields
        self.body = body

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if DEFAULT_PORTS.get(self.scheme) == self.port else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.authority}{self.target}"

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    def headers(self) -> dict[str, str]:
        """The fields as text, for a trace (values that are not UTF-8 shown replaced)."""
        return {name: value.decode("utf-8", "replace") for name, value in self.fields}


class Response:
    """A whole answer: status, fields, the decoded body, and the request it answers."""

    __slots__ = ("content", "elapsed", "headers", "reason_phrase", "request", "status_code")

    def __init__(
        self,
        request: Request,
        status_code: int,
        reason_phrase: str,
        headers: Headers,
        content: bytes,
        elapsed: float = 0.0,
    ) -> None:
        self.request = request
        self.status_code = status_code
        self.reason_phrase = reason_phrase
        self.headers = headers
        self.content = content
        self.elapsed = elapsed  # seconds from sending to the answer's header block

    @property
    def host(self) -> str:
        return self.request.host

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


def _encode_value(value: str | bytes) -> bytes:
    raw = value.encode("ascii") if isinstance(value, str) else bytes(value)
    if _FORBIDDEN_IN_VALUE.search(raw):
        raise Unsendable
    return raw


def _target(path: str, query: str, params: Any) -> str:
    target = quote(path or "/", safe=_TARGET_SAFE)
    query = quote(query, safe=_TARGET_SAFE)
    if params:
        items = params.items() if isinstance(params, Mapping) else params
        extra = urlencode([(str(name), str(value)) for name, value in items])
        query = f"{query}&{extra}" if query else extra
    return f"{target}?{query}" if query else target


def build_request(
    method: str,
    url: str,
    *,
    params: Any = None,
    json: Any = None,
    data: Mapping[str, str] | None = None,
    content: bytes | None = None,
    headers: Mapping[str, str | bytes] | None = None,
    user_agent: str = "scalekit-cli",
) -> Request:
    """The request as it will be written; Unsendable when HTTP cannot carry a part of it."""
    if _CONTROL.search(url):  # urlsplit would silently drop tabs and line breaks
        raise Unsendable
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Unsendable from None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in DEFAULT_PORTS:
        raise Unsendable("unsupported URL scheme")
    if not host or not host.isascii():
        raise Unsendable
    if not _TOKEN.match(method):
        raise Unsendable
    body = content
    content_type = None
    if json is not None:
        import json as json_module

        body = json_module.dumps(
            json, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode("utf-8")
        content_type = "application/json"
    elif data is not None:
        body = urlencode(list(data.items())).encode("ascii")
        content_type = "application/x-www-form-urlencoded"
    request = Request(
        method.upper(),
        scheme,
        host,
        port if port is not None else DEFAULT_PORTS[scheme],
        _target(parts.path, parts.query, params),
        [],
        body,
    )
    given = {name.lower(): value for name, value in (headers or {}).items()}
    defaults: dict[str, str | bytes] = {
        "host": request.authority,
        "accept": "*/*",
        "accept-encoding": ACCEPT_ENCODING,
        "connection": "keep-alive",
        "user-agent": user_agent,
    }
    if body is not None or request.method in ("POST", "PUT", "PATCH"):
        defaults["content-length"] = str(len(body or b""))
    if content_type:
        defaults["content-type"] = content_type
    for name, value in {**defaults, **given}.items():
        if not _TOKEN.match(name):
            raise Unsendable
        try:
            request.fields.append((name, _encode_value(value)))
        except UnicodeEncodeError:
            raise Unsendable from None
    return request


def _decoded(encoding: str, raw: bytes) -> bytes:
    """The body with its Content-Encoding undone (the last applied first)."""
    body = raw
    for coding in reversed([c.strip().lower() for c in encoding.split(",") if c.strip()]):
        try:
            if coding in ("gzip", "x-gzip"):
                body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
            elif coding == "deflate":
                try:
                    body = zlib.decompress(body)
                except zlib.error:  # raw deflate, as some servers send it
                    body = zlib.decompress(body, -zlib.MAX_WBITS)
            elif coding != "identity":
                raise UndecodableBody
        except zlib.error:
            raise UndecodableBody from None
    return body


def _text(value: str) -> str:
    """A header value as sent: http.client reads bytes as Latin-1; UTF-8 where it is that."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def answer(
    request: Request,
    status: int,
    reason: str,
    fields: Iterable[tuple[str, str]],
    raw_body: bytes,
    elapsed: float = 0.0,
) -> Response:
    """A Response from what arrived: every transport ends here, so decoding is one path."""
    headers = Headers(fields)
    content = _decoded(headers.get("content-encoding", ""), raw_body) if raw_body else raw_body
    return Response(request, status, reason, headers, content, elapsed)


class Transport(Protocol):
    def send(self, request: Request, timeout: float) -> Response: ...

    def close(self) -> None: ...


# -- TLS and proxies --------------------------------------------------------------------------


def tls_context(environ: Mapping[str, str] | None = None) -> ssl.SSLContext:
    """What servers are verified against: the first CA variable that is set, else certifi's
    bundle (the system's store without certifi). Verification is never turned off."""
    import ssl

    environ = os.environ if environ is None else environ
    for name in (*CA_FILE_VARIABLES, CA_DIR_VARIABLE):
        value = environ.get(name, "").strip()
        if not value:
            continue
        try:
            if name == CA_DIR_VARIABLE:
                return ssl.create_default_context(capath=value)
            return ssl.create_default_context(cafile=value)
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
            raise ConfigurationError(
                f"{name}={value} cannot be used to verify servers: {reason}"
            ) from None
    try:
        import certifi
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def proxies_configured(environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    return any(
        name.lower() in ("http_proxy", "https_proxy", "all_proxy") and value.strip()
        for name, value in environ.items()
    )


class Proxy:
    """An http:// proxy: where to connect, and the Proxy-Authorization its URL implies."""

    __slots__ = ("authorization", "host", "port")

    def __init__(self, variable: str, url: str) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme.lower() != "http" or not parts.hostname or port == 0:
            raise ConfigurationError(
                f"{variable} names a {parts.scheme or 'scheme-less'}:// proxy; sk goes through "
                "http:// proxies only (https is tunnelled through them with CONNECT)"
            )
        self.host = parts.hostname
        self.port = port or 80
        self.authorization: bytes | None = None
        if parts.username is not None:
            import base64

            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self.authorization = b"Basic " + base64.b64encode(pair.encode("utf-8"))


def proxy_for(scheme: str, host: str, environ: Mapping[str, str] | None = None) -> Proxy | None:
    """The proxy the environment names for this scheme and host, None for a direct line."""
    environ = os.environ if environ is None else environ
    if not proxies_configured(environ):
        return None
    found: dict[str, tuple[str, str]] = {}
    for name, value in environ.items():
        key = name.lower()
        # The lower-case spelling wins, as with curl; HTTP_PROXY is ignored under CGI, where
        # a request's `Proxy:` header would set it (httpoxy).
        if key == "http_proxy" and name == "HTTP_PROXY" and "REQUEST_METHOD" in environ:
            continue
        if value.strip() and (key not in found or name == key):
            found[key] = (name, value.strip())
    chosen = found.get(f"{scheme}_proxy") or found.get("all_proxy")
    if chosen is None or _bypassed(host, found.get("no_proxy", ("", ""))[1]):
        return None
    return Proxy(*chosen)


def _bypassed(host: str, no_proxy: str) -> bool:
    """NO_PROXY: `*`, or names and domains (`example.com` and `.example.com` cover its
    subdomains too), compared without port or case."""
    host = host.lower().rstrip(".")
    for entry in no_proxy.split(","):
        entry = entry.strip().lower()
        if entry == "*":
            return True
        if entry.startswith("[") and "]" in entry:
            entry = entry[1 : entry.index("]")]
        elif entry.count(":") == 1:
            entry = entry.split(":", 1)[0]
        entry = entry.lstrip("*").lstrip(".").rstrip(".")
        if entry and (host == entry or host.endswith("." + entry)):
            return True
    return False


# -- the connection pool ----------------------------------------------------------------------


def _stale(connection: http.client.HTTPConnection) -> bool:
    """An idle connection the server has closed (or written to unasked) is not reused: its
    socket reads as ready."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class StdlibTransport:
    """http.client connections, kept alive per origin; a TLS context made only for https
    (loading a CA bundle costs OpenSSL 3 50-100 ms, more than a whole request to a loopback
    sandbox)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None

    def _context(self) -> ssl.SSLContext:
        with self._lock:
            if self._tls is None:
                self._tls = tls_context(self._environ)
            return self._tls

    def _open(self, request: Request, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        """A new connection (and whether the request goes through a proxy in absolute form)."""
        proxy = proxy_for(request.scheme, request.host, self._environ)
        if request.scheme == "https":
            if proxy is None:
                connection = http.client.HTTPSConnection(
                    request.host, request.port, timeout=timeout, context=self._context()
                )
                return connection, False
            connection = http.client.HTTPSConnection(
                proxy.host, proxy.port, timeout=timeout, context=self._context()
            )
            tunnel = {"Proxy-Authorization": proxy.authorization} if proxy.authorization else {}
            connection.set_tunnel(request.host, request.port, headers=tunnel)  # type: ignore[arg-type]
            return connection, False
        if proxy is None:
            return http.client.HTTPConnection(request.host, request.port, timeout=timeout), False
        connection = http.client.HTTPConnection(proxy.host, proxy.port, timeout=timeout)
        connection.sk_proxy_authorization = proxy.authorization  # type: ignore[attr-defined]
        return connection, True

    def _checkout(self, request: Request, timeout: float) -> http.client.HTTPConnection:
        key = (request.scheme, request.host, request.port)
        while True:
            with self._lock:
                idle = self._idle.get(key)
                connection = idle.pop() if idle else None
            if connection is None:
                break
            if not _stale(connection):
                connection.timeout = timeout
                if connection.sock is not None:
                    connection.sock.settimeout(timeout)
                return connection
            connection.close()
        connection, absolute = self._open(request, timeout)
        connection.sk_absolute = absolute  # type: ignore[attr-defined]
        try:
            connection.connect()
        except TimeoutError:
            connection.close()
            raise ConnectTimedOut(timeout) from None
        except OSError as exc:
            connection.close()
            import ssl

            if isinstance(exc, ssl.SSLCertVerificationError):
                raise untrusted_certificate(exc) from None
            if isinstance(exc, ssl.SSLError):
                raise ConnectFailed(f"TLS handshake failed: {exc.reason or exc}") from None
            raise ConnectFailed(os_cause(exc)) from None
        return connection

    def _checkin(self, request: Request, connection: http.client.HTTPConnection) -> None:
        key = (request.scheme, request.host, request.port)
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < MAX_IDLE_PER_ORIGIN:
                idle.append(connection)
                return
        connection.close()

    def send(self, request: Request, timeout: float) -> Response:
        connection = self._checkout(request, timeout)
        started = time.monotonic()
        try:
            absolute = getattr(connection, "sk_absolute", False)
            connection.putrequest(
                request.method,
                request.url if absolute else request.target,
                skip_host=True,
                skip_accept_encoding=True,
            )
            for name, value in request.fields:
                connection.putheader(name, value)
            authorization = getattr(connection, "sk_proxy_authorization", None)
            if absolute and authorization:
                connection.putheader("proxy-authorization", authorization)
            connection.endheaders(request.body)
            reply = connection.getresponse()
            elapsed = time.monotonic() - started
            raw = reply.read()
        except TimeoutError:
            connection.close()
            raise AnswerTimedOut(timeout) from None
        except (http.client.RemoteDisconnected, http.client.IncompleteRead):
            connection.close()
            raise ConnectionBroken(CLOSED_EARLY) from None
        except http.client.HTTPException:
            connection.close()
            raise ConnectionBroken("the answer was not valid HTTP") from None
        except (ConnectionResetError, BrokenPipeError):
            connection.close()
            raise ConnectionBroken("the connection was reset") from None
        except OSError as exc:
            connection.close()
            raise ConnectionBroken(os_cause(exc)) from None
        except BaseException:
            connection.close()
            raise
        if reply.will_close:
            connection.close()
        else:
            self._checkin(request, connection)
        fields = [(name, _text(value)) for name, value in reply.getheaders()]
        return answer(request, reply.status, reply.reason, fields, raw, elapsed)

    def close(self) -> None:
        with self._lock:
            connections = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for connection in connections:
            connection.close()


__all__ = [
    "AnswerTimedOut",
    "ConnectFailed",
    "ConnectTimedOut",
    "ConnectionBroken",
    "Headers",
    "Request",
    "Response",
    "StdlibTransport",
    "Transport",
    "TransportError",
    "UndecodableBody",
    "Unsendable",
    "answer",
    "build_request",
    "tls_context",
]
