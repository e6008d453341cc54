"""What sk's httpx client connects with: TLS trust, the proxy the environment names, and a
deadline no server can stretch.

httpx's own transport is not used for the network, for one reason: its timeouts bound each
socket operation, so a server that drips a byte a second holds a request for ever. Ours is
httpx's documented extension point (`httpx.BaseTransport`) over httpcore's pools, given a
network backend (httpcore's documented `network_backend`) whose every connect, handshake, read
and write ends by the deadline of the request the calling thread is sending
(`request_deadline`). httpcore does the HTTP/1.1; httpx above builds requests and decodes
answers.

TLS: servers are always verified. A CA bundle named by `SSL_CERT_FILE` or `REQUESTS_CA_BUNDLE`
(or a directory named by `SSL_CERT_DIR`) replaces certifi's, as with curl, requests and pip:
the way through a corporate proxy that re-signs TLS. One that cannot be used is a
configuration error naming the variable.

Proxies: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (either case, as curl reads
them); an http:// proxy (credentials in its URL become `Proxy-Authorization`), with https
tunnelled through CONNECT and verified end to end. Other proxy schemes are refused. A loopback
host (localhost, 127.0.0.0/8, ::1) is never proxied, whatever NO_PROXY says: a local sandbox's
traffic, and the credentials it carries, stay on the machine. httpx's own reading of the
environment is not used: it takes no CIDR range or port in NO_PROXY, and matches
`example.com` inside `badexample.com`.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import httpcore

from .. import httpx_lean as httpx
from .errors import ConfigurationError
from .models import is_loopback_host
from .secrets import GLOBAL_SECRETS, SecretRegistry

if TYPE_CHECKING:
    import ssl

# Variables naming a CA bundle to verify servers with, in the order they are honoured.
CA_FILE_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
CA_DIR_VARIABLE = "SSL_CERT_DIR"
DEFAULT_PORTS = {"http": 80, "https": 443}
# Idle keep-alive connections kept per route (Gmail batches run a few at once).
MAX_IDLE_PER_ROUTE = 20

# The monotonic time by which the request the current thread is sending must be done.
_DEADLINE: ContextVar[float | None] = ContextVar("sk_request_deadline", default=None)


@contextlib.contextmanager
def request_deadline(at: float) -> Iterator[None]:
    """Every network operation of this thread ends by `at` (a time.monotonic() value)."""
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _bounded(timeout: float | None) -> float | None:
    """An operation's timeout, cut to what is left before the current deadline."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    # Never zero: a zero timeout makes a socket non-blocking instead of failing at once.
    left = max(deadline - time.monotonic(), 0.001)
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # httpcore writes a buffer whole; a reader that takes a byte a second is cut off at
        # the next send, each send being bounded.
        self._stream.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, _bounded(timeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(
            host, port, _bounded(timeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


# -- TLS --------------------------------------------------------------------------------------


def tls_context(environ: Mapping[str, str] | None = None) -> ssl.SSLContext:
    """What servers are verified against: the first CA variable that is set, else certifi's
    bundle (the system's store without certifi). Verification is never turned off.
    ConfigurationError, naming the variable, for one that cannot be used."""
    import ssl

    environ = os.environ if environ is None else environ
    for name in (*CA_FILE_VARIABLES, CA_DIR_VARIABLE):
        value = environ.get(name, "").strip()
        if not value:
            continue

        def unusable(reason: str, name: str = name, value: str = value) -> ConfigurationError:
            return ConfigurationError(f"{name}={value} cannot be used to verify servers: {reason}")

        if name == CA_DIR_VARIABLE:
            # OpenSSL reads a CA directory only when a certificate is checked, and quietly
            # finds nothing in one that is missing: check it now, as a bundle is checked.
            if not os.path.isdir(value):
                raise unusable("no such directory")
            if not os.access(value, os.R_OK | os.X_OK):
                raise unusable("permission denied")
            return ssl.create_default_context(capath=value)
        if os.path.isdir(value):
            raise unusable("it is a directory (SSL_CERT_DIR names directories)")
        try:
            context = ssl.create_default_context(cafile=value)
        except (OSError, ssl.SSLError) as exc:
            raise unusable(
                getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
            ) from None
        if not context.get_ca_certs():
            raise unusable("it holds no CA certificate")
        return context
    try:
        import certifi
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


# -- proxies ----------------------------------------------------------------------------------


def proxies_configured(environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    return any(
        name.lower() in ("http_proxy", "https_proxy", "all_proxy") and value.strip()
        for name, value in environ.items()
    )


class Proxy:
    """An http:// proxy named by `variable`: where it is, and the credentials its URL holds."""

    __slots__ = ("authorization", "host", "password", "port", "username", "variable")

    def __init__(self, variable: str, url: str) -> None:
        # Messages name the variable, never its value: a proxy URL may hold a password.
        unusable = ConfigurationError(f"{variable} does not hold a usable proxy URL")
        try:
            parts = urlsplit(url if "://" in url else f"http://{url}")
            port = parts.port
            host = parts.hostname or ""
        except ValueError:
            raise unusable from None
        if parts.scheme.lower() != "http":
            raise ConfigurationError(
                f"{variable} names a {parts.scheme}:// proxy; sk goes through http:// proxies "
                "only (https is tunnelled through them with CONNECT)"
            )
        if not host or port == 0 or any(c.isspace() or not c.isprintable() for c in host):
            raise unusable
        try:
            httpx.URL(scheme="http", host=host, port=port)  # the host as httpx would send it
        except (httpx.InvalidURL, UnicodeError, ValueError):
            raise unusable from None
        self.variable = variable
        self.host = host
        self.port = port or 80
        self.username = unquote(parts.username) if parts.username is not None else None
        self.password = unquote(parts.password or "") if parts.username is not None else None
        self.authorization: str | None = None
        if self.username is not None:
            import base64

            pair = f"{self.username}:{self.password}"
            self.authorization = "Basic " + base64.b64encode(pair.encode("utf-8")).decode()

    @property
    def key(self) -> tuple[str, int, str | None]:
        return self.host, self.port, self.authorization

    def secrets(self) -> list[str]:
        """What of the proxy's URL must never be shown: its password, and the header made of
        it (a proxy quoting either back in its refusal is scrubbed like any secret)."""
        if self.authorization is None:
            return []
        values = [self.authorization, self.authorization.split(" ", 1)[1]]
        if self.password:
            values.append(self.password)
        return values


def proxy_for(
    scheme: str, host: str, port: int, environ: Mapping[str, str] | None = None
) -> Proxy | None:
    """The proxy the environment names for this scheme and host, None for a direct line."""
    if is_loopback_host(host.rstrip(".")):
        return None
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

    host = host.lower().strip("[]").rstrip(".")
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


# -- the transport ----------------------------------------------------------------------------


_HTTPCORE_FAILURES = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.ProxyError,
    httpcore.UnsupportedProtocol,
)
_Pool = httpcore.ConnectionPool | httpcore.HTTPProxy


def _as_httpx(exc: Exception, request: httpx.Request) -> httpx.TransportError:
    """httpcore's exception as httpx's of the same name (the two share their vocabulary)."""
    kind = getattr(httpx, type(exc).__name__, None)
    if not (isinstance(kind, type) and issubclass(kind, httpx.TransportError)):
        kind = httpx.TransportError
    return kind(str(exc), request=request)


class _Body(httpx.SyncByteStream):
    """An answer's body from httpcore, its failures as httpx's."""

    def __init__(self, stream: Iterable[bytes], request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except _HTTPCORE_FAILURES as exc:
            raise _as_httpx(exc, self._request) from exc

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


def _socket_failure(exc: BaseException) -> bool:
    """Whether a connect failure was the socket's (refused, unresolvable, unreachable), not a
    TLS handshake's (ssl.SSLError is an OSError too)."""
    import ssl

    # httpcore wraps the OSError as its exception's argument (and, not always, its cause).
    seen: BaseException | None = exc
    while seen is not None:
        for found in (seen, *seen.args):
            if isinstance(found, ssl.SSLError):
                return False
            if isinstance(found, OSError):
                return True
        seen = seen.__cause__ or seen.__context__
    return False


class NetworkTransport(httpx.BaseTransport):
    """sk's way onto the network: for each request, the proxy the environment names for its
    host (or none), each route with its own keep-alive pool; a TLS context only for https
    (loading a CA bundle costs OpenSSL tens of milliseconds, more than a whole request to a
    loopback sandbox). Safe across threads, as httpcore's pools are."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        secrets: SecretRegistry | None = None,
    ) -> None:
        self._environ = environ
        self._secrets = secrets if secrets is not None else GLOBAL_SECRETS
        self._backend = _DeadlineBackend()
        self._pools: dict[tuple[str, tuple[str, int, str | None] | None], _Pool] = {}
        self._tls: ssl.SSLContext | None = None
        self._lock = threading.Lock()

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = tls_context(self._environ)
        return self._tls

    def _pool(self, scheme: str, proxy: Proxy | None) -> _Pool:
        route = (scheme, proxy.key if proxy is not None else None)
        with self._lock:
            pool = self._pools.get(route)
            if pool is not None:
                return pool
            context = self._context() if scheme == "https" else None
            common: dict[str, Any] = {
                "ssl_context": context,
                "max_keepalive_connections": MAX_IDLE_PER_ROUTE,
                # No cap on connections open at once (httpcore's default is 10): callers bound
                # their own parallelism (`sk mcp serve`'s MAX_PARALLEL_CALLS), and a cap here
                # would queue their requests silently behind each other.
                "max_connections": None,
                "network_backend": self._backend,
            }
            if proxy is None:
                pool = httpcore.ConnectionPool(**common)
            else:
                headers = (
                    [(b"proxy-authorization", proxy.authorization.encode("ascii"))]
                    if proxy.authorization
                    else []
                )
                pool = httpcore.HTTPProxy(
                    proxy_url=httpcore.URL(scheme=b"http", host=proxy.host, port=proxy.port),
                    proxy_headers=headers,
                    **common,
                )
            self._pools[route] = pool
            return pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        port = url.port or DEFAULT_PORTS.get(url.scheme, 0)
        proxy = proxy_for(url.scheme, url.host, port, self._environ)
        if proxy is not None:
            for value in proxy.secrets():
                self._secrets.add(value, credential=True)
        pool = self._pool(url.scheme, proxy)
        inner = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,  # type: ignore[arg-type]
            extensions=request.extensions,
        )
        try:
            answer = pool.handle_request(inner)
        except httpcore.ConnectError as exc:
            if proxy is not None and _socket_failure(exc):
                # Through a proxy, the only TCP connection sk opens is to the proxy: name it
                # (host and port, never the credentials its URL may hold), not the target.
                where = f"[{proxy.host}]" if ":" in proxy.host else proxy.host
                detail = str(exc).split("] ", 1)[-1].strip() or "connection failed"
                detail = detail[0].lower() + detail[1:]
                message = f"the proxy {where}:{proxy.port} ({proxy.variable}): {detail}"
                raise httpx.ConnectError(message, request=request) from exc
            raise _as_httpx(exc, request) from exc
        except _HTTPCORE_FAILURES as exc:
            raise _as_httpx(exc, request) from exc
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_Body(answer.stream, request),  # type: ignore[arg-type]
            extensions=answer.extensions,
        )

    def close(self) -> None:
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.close()


__all__ = [
    "CA_DIR_VARIABLE",
    "CA_FILE_VARIABLES",
    "NetworkTransport",
    "Proxy",
    "proxy_for",
    "request_deadline",
    "tls_context",
]
