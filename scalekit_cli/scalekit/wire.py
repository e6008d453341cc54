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
import sys
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
# The largest answer body read, before and after decoding: a hostile server's endless (or
# 1000:1 compressed) body ends as an error, not as all of the machine's memory. Gmail's own
# messages stop at 25 MB (35 MB once base64-encoded), well inside.
MAX_BODY_BYTES = 256 * 1024 * 1024
MAX_INTERIM_ANSWERS = 10

# Said of a request that cannot be written; never with the value itself, which may be a token.
UNSENDABLE = "the request could not be sent: a header or the URL holds characters HTTP forbids"
CLOSED_EARLY = "the connection was closed before a complete answer"

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # fullmatch only: `$` allows a final \n
# A host as written to the socket layer: a DNS name (after IDNA), IPv4, or an IPv6 literal.
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]+(%[0-9A-Za-z._~-]+)?")
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


class AnswerTooLarge(TransportError):
    repeatable = False

    def __init__(self) -> None:
        super().__init__(f"the answer is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB")


def untrusted_certificate(exc: Exception) -> ConnectFailed:
    detail = str(exc).rsplit("certificate verify failed:", 1)[-1].split("(_ssl", 1)[0]
    return ConnectFailed(
        f"TLS certificate verification failed ({detail.strip() or 'untrusted'}); behind "
        "a proxy that re-signs TLS, set SSL_CERT_FILE to its CA bundle"
    )


_TUNNEL_REFUSED = re.compile(r"Tunnel connection failed: (\d{3})")


def _connect_failure(exc: OSError) -> ConnectFailed:
    """What a failed connect() was: TLS, a proxy refusing the tunnel, or the network."""
    import ssl

    if isinstance(exc, ssl.SSLCertVerificationError):
        return untrusted_certificate(exc)
    if isinstance(exc, ssl.SSLError):
        return ConnectFailed(f"TLS handshake failed: {exc.reason or exc}")
    refused = _TUNNEL_REFUSED.match(str(exc))
    if refused:
        failure = ConnectFailed(f"the proxy refused the tunnel: {os_cause(exc).split(': ', 1)[-1]}")
        # 407 and other refusals of the request itself come back the same every time.
        failure.repeatable = not 400 <= int(refused.group(1)) < 500
        return failure
    return ConnectFailed(os_cause(exc))


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
        self.elapsed = elapsed  # seconds to the answer's header block, connection set-up included

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


def _checked_host(host: str) -> str:
    """The host as the socket layer takes it (an IDN in its ASCII form); Unsendable when it
    is no host name or address at all."""
    if ":" in host:  # an IPv6 literal (urlsplit took the brackets off)
        if not _IPV6.fullmatch(host):
            raise Unsendable
        return host
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise Unsendable from None
    # One trailing dot (an absolute name) is dropped, as curl does: certificates and Host
    # headers name the host without it.
    ascii_host = ascii_host.removesuffix(".")
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise Unsendable
    return ascii_host


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
    if scheme not in DEFAULT_PORTS:
        raise Unsendable("unsupported URL scheme")
    host = _checked_host(parts.hostname or "")
    if not _TOKEN.fullmatch(method):
        raise Unsendable
    body = content
    content_type = None
    try:
        if json is not None:
            import json as json_module

            body = json_module.dumps(
                json, ensure_ascii=False, separators=(",", ":"), allow_nan=False
            ).encode("utf-8")
            content_type = "application/json"
        elif data is not None:
            body = urlencode(list(data.items())).encode("utf-8")
            content_type = "application/x-www-form-urlencoded"
        target = _target(parts.path, parts.query, params)
    except (UnicodeError, ValueError):  # lone surrogates, NaN: nothing HTTP can carry
        raise Unsendable from None
    request = Request(
        method.upper(),
        scheme,
        host,
        port if port is not None else DEFAULT_PORTS[scheme],
        target,
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
        if not _TOKEN.fullmatch(name):
            raise Unsendable
        try:
            request.fields.append((name, _encode_value(value)))
        except UnicodeEncodeError:
            raise Unsendable from None
    return request


def _inflate(body: bytes, window_bits: int) -> bytes:
    inflater = zlib.decompressobj(window_bits)
    out = inflater.decompress(body, MAX_BODY_BYTES + 1)
    if len(out) > MAX_BODY_BYTES:
        raise AnswerTooLarge
    if not inflater.eof:
        raise zlib.error("truncated")
    return out


def _decoded(encoding: str, raw: bytes) -> bytes:
    """The body with its Content-Encoding undone (the last applied first). A coding sk does not
    know is left as it is, as httpx does: sk never asks for one."""
    body = raw
    for coding in reversed([c.strip().lower() for c in encoding.split(",") if c.strip()]):
        try:
            if coding in ("gzip", "x-gzip"):
                body = _inflate(body, 16 + zlib.MAX_WBITS)
            elif coding == "deflate":
                try:
                    body = _inflate(body, zlib.MAX_WBITS)
                except zlib.error:  # raw deflate, as some servers send it
                    body = _inflate(body, -zlib.MAX_WBITS)
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
        # Messages name the variable, never its value: a proxy URL may hold a password.
        unusable = ConfigurationError(f"{variable} does not hold a usable proxy URL")
        try:
            parts = urlsplit(url if "://" in url else f"http://{url}")
            port = parts.port
        except ValueError:
            raise unusable from None
        if parts.scheme.lower() != "http":
            raise ConfigurationError(
                f"{variable} names a {parts.scheme}:// proxy; sk goes through http:// proxies "
                "only (https is tunnelled through them with CONNECT)"
            )
        try:
            host = _checked_host(parts.hostname or "")
        except Unsendable:
            raise unusable from None
        if port == 0:
            raise unusable
        self.host = host
        self.port = port or 80
        self.authorization: str | None = None
        if parts.username is not None:
            import base64

            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self.authorization = "Basic " + base64.b64encode(pair.encode("utf-8")).decode()


def proxy_for(
    scheme: str, host: str, port: int, environ: Mapping[str, str] | None = None
) -> Proxy | None:
    """The proxy the environment names for this scheme and host, None for a direct line."""
    environ = os.environ if environ is None else environ
    if not proxies_configured(environ):
        return None
    found: dict[str, tuple[str, str]] = {}
    for name, value in environ.items():
        key = name.lower()
        if name not in (key, key.upper()):
            continue  # Https_Proxy is nobody's spelling: curl reads neither
        # The lower-case spelling wins, as with curl; HTTP_PROXY is ignored under CGI, where
        # a request's `Proxy:` header would set it (httpoxy).
        if key == "http_proxy" and name == "HTTP_PROXY" and "REQUEST_METHOD" in environ:
            continue
        if value.strip() and (key not in found or name == key):
            found[key] = (name, value.strip())
    chosen = found.get(f"{scheme}_proxy") or found.get("all_proxy")
    if chosen is None or _bypassed(host, port, found.get("no_proxy", ("", ""))[1]):
        return None
    return Proxy(*chosen)


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit()  # str.isdigit() alone takes "²"


def _bypassed(host: str, port: int, no_proxy: str) -> bool:
    """NO_PROXY as curl reads it: `*`; a name, which covers its subdomains too (`example.com`,
    `.example.com`); an IP address or a CIDR range (`10.0.0.0/8`); any of them with `:PORT`
    for that port only. Compared without case."""
    import ipaddress

    def address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        try:
            return ipaddress.ip_address(text)
        except ValueError:
            return None

    host = host.lower().rstrip(".")
    host_address = address(host)
    for entry in no_proxy.split(","):
        entry = entry.strip().lower()
        if entry == "*":
            return True
        entry_port = None
        if entry.startswith("["):
            entry, _, rest = entry[1:].partition("]")
            if rest[:1] == ":" and _is_port(rest[1:]):
                entry_port = int(rest[1:])
        elif entry.count(":") == 1 and _is_port(entry.partition(":")[2]):
            entry, _, digits = entry.partition(":")
            entry_port = int(digits)
        if not entry or (entry_port is not None and entry_port != port):
            continue
        if "/" in entry or address(entry) is not None:
            try:
                if host_address is not None and host_address in ipaddress.ip_network(
                    entry, strict=False
                ):
                    return True
            except (ValueError, TypeError):  # not a network, or another IP version
                pass
            continue
        entry = entry.lstrip("*").lstrip(".").rstrip(".")
        if entry and (host == entry or host.endswith("." + entry)):
            return True
    return False


# -- the connection pool ----------------------------------------------------------------------


def _stale(connection: http.client.HTTPConnection) -> bool:
    """An idle connection the server has closed (or written to unasked) is not reused: its
    socket reads as ready. poll(), where there is one: select() fails on descriptors over
    1023."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class _FinalResponse(http.client.HTTPResponse):
    """An answer read past its interim (1xx) responses. http.client skips only 100 Continue;
    a 103 Early Hints taken as final would leave the real answer on the connection for the
    next request. (101 is final: sk never asks to switch protocols, and such a connection is
    not reused.) A server sending interim answers for ever is cut off after a few."""

    def _read_status(self) -> tuple[str, int, str]:
        for _interim in range(MAX_INTERIM_ANSWERS + 1):
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if not 102 <= status < 200:
                return version, status, reason
            for _line in range(http.client._MAXHEADERS + 1):  # type: ignore[attr-defined]
                line = self.fp.readline(http.client._MAXLINE + 1)  # type: ignore[attr-defined]
                if len(line) > http.client._MAXLINE:  # type: ignore[attr-defined]
                    raise http.client.LineTooLong("interim header line")
                if line in (b"\r\n", b"\n", b""):
                    break
            else:
                raise http.client.HTTPException("too many interim header lines")
        raise http.client.HTTPException("too many interim answers")


def _read_body(reply: http.client.HTTPResponse, method: str) -> bytes:
    if method == "HEAD" or reply.status in (204, 304) or reply.status < 200:
        # No body, whatever the fields say (RFC 9112 §6.3); reading one would wait for ever.
        # Nothing of it may be left on the connection either: it is not reused.
        if reply.chunked or reply.length:
            reply.will_close = True
        return b""
    chunks: list[bytes] = []
    size = 0
    while chunk := reply.read(1024 * 1024):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise AnswerTooLarge
        chunks.append(chunk)
    if reply.length:  # read(amt) ends quietly where the server hung up short of Content-Length
        raise http.client.IncompleteRead(b"", reply.length)
    return b"".join(chunks)


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
        proxy = proxy_for(request.scheme, request.host, request.port, self._environ)
        connection: http.client.HTTPConnection
        absolute = False
        if request.scheme == "https":
            via = (proxy.host, proxy.port) if proxy else (request.host, request.port)
            connection = http.client.HTTPSConnection(*via, timeout=timeout, context=self._context())
            if proxy is not None:
                if ":" in request.host and sys.version_info < (3, 12):
                    # 3.11's http.client writes `CONNECT ::1:443`, without the brackets.
                    raise Unsendable(
                        "an IPv6 address cannot be tunnelled to through a proxy by Python 3.11 "
                        "(3.12 can); add it to NO_PROXY"
                    )
                tunnel = {"Proxy-Authorization": proxy.authorization} if proxy.authorization else {}
                connection.set_tunnel(request.host, request.port, headers=tunnel)
        elif proxy is None:
            connection = http.client.HTTPConnection(request.host, request.port, timeout=timeout)
        else:
            connection = http.client.HTTPConnection(proxy.host, proxy.port, timeout=timeout)
            connection.sk_proxy_authorization = proxy.authorization  # type: ignore[attr-defined]
            absolute = True
        connection.response_class = _FinalResponse
        return connection, absolute

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
        try:
            connection, absolute = self._open(request, timeout)
        except http.client.InvalidURL:
            raise Unsendable from None
        connection.sk_absolute = absolute  # type: ignore[attr-defined]
        try:
            connection.connect()
        except TimeoutError:
            connection.close()
            raise ConnectTimedOut(timeout) from None
        except http.client.RemoteDisconnected:
            connection.close()
            raise ConnectFailed("the proxy closed the connection instead of tunnelling") from None
        except http.client.HTTPException:
            connection.close()
            raise ConnectFailed("the proxy's answer to CONNECT was not HTTP") from None
        except UnicodeError:  # a name IDNA cannot encode
            connection.close()
            raise Unsendable from None
        except OSError as exc:
            connection.close()
            raise _connect_failure(exc) from None
        return connection

    def _checkin(self, request: Request, connection: http.client.HTTPConnection) -> None:
        key = (request.scheme, request.host, request.port)
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < MAX_IDLE_PER_ORIGIN:
                idle.append(connection)
                return
        connection.close()

    def _write(self, connection: http.client.HTTPConnection, request: Request) -> None:
        absolute = getattr(connection, "sk_absolute", False)
        try:
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
        except (ValueError, http.client.HTTPException):  # http.client's own header checks
            connection.close()
            raise Unsendable from None

    def send(self, request: Request, timeout: float) -> Response:
        started = time.monotonic()  # the connection's set-up counts: a doctor times it all
        connection = self._checkout(request, timeout)
        self._write(connection, request)
        try:
            connection.endheaders(request.body)
            reply = connection.getresponse()
            elapsed = time.monotonic() - started
            raw = _read_body(reply, request.method)
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
        if reply.will_close or reply.status == 101:
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
    "AnswerTooLarge",
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
