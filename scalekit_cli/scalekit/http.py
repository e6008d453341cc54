"""One HTTP session for a command: a single httpx client (keep-alive), bounded retries, tracing.

Retry policy:
- idempotent calls (reads, the token exchange, link requests) are retried on connection
  failures, timeouts and 429 / 500 / 502 / 503 / 504;
- other calls (account creation, tool execution, deletion, verification) only when the request
  provably never reached the server: a connection that could not be opened, or 429 (the server
  refused it unprocessed). A create or a tool run is never blindly repeated.
Delays grow exponentially with full jitter and honour `Retry-After`; at most `max_retries`
retries, and none is started once `retry_budget` seconds have gone by.

TLS: servers are always verified. A CA bundle named by `SSL_CERT_FILE` or `REQUESTS_CA_BUNDLE`
replaces certifi's, as with curl, requests and pip: the way through a corporate proxy that
re-signs TLS. (httpx itself reads `SSL_CERT_FILE` and `SSL_CERT_DIR`, not `REQUESTS_CA_BUNDLE`.)
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import _httpx as httpx
from .errors import ConfigurationError, NetworkError

if TYPE_CHECKING:
    import ssl

RETRY_STATUSES_IDEMPOTENT = frozenset({429, 500, 502, 503, 504})
RETRY_STATUSES_ANY = frozenset({429})
_RETRY_AFTER_CAP_SECONDS = 30.0

# Variables naming a CA bundle to verify servers with, in the order they are honoured.
CA_FILE_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


def tls_verification(environ: Mapping[str, str] | None = None) -> ssl.SSLContext | bool:
    """What servers are verified against: a context from the first CA variable that is set, or
    True (httpx's default: certifi, or `SSL_CERT_DIR`). Verification is never turned off."""
    environ = os.environ if environ is None else environ
    for name in CA_FILE_VARIABLES:
        value = environ.get(name, "").strip()
        if not value:
            continue
        import ssl

        try:
            return ssl.create_default_context(cafile=value)
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
            raise ConfigurationError(
                f"{name}={value} cannot be used to verify servers: {reason}"
            ) from None
    return True


def _proxies_configured() -> bool:
    """Whether httpx would route through a proxy from the environment (HTTPS_PROXY, …)."""
    from urllib.request import getproxies  # what httpx reads them with

    return any(scheme != "no" for scheme in getproxies())


class DeferredTlsTransport(httpx.BaseTransport):
    """httpx's own transport, built on first use, one per scheme, so that a TLS context is made
    only for https. Loading a CA bundle takes OpenSSL 3 50-100 ms, longer than a whole
    `sk token` against a loopback sandbox, which speaks plain http and never needs it.

    https gets exactly what httpx.Client would build (verification with tls_verification()).
    The plain-http transport is never handed an https request; its context is a strict one
    without trust anchors, so that it could not complete a TLS handshake even if it were.
    """

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._transports: dict[bool, httpx.HTTPTransport] = {}
        self._lock = threading.Lock()  # Gmail reads come from several threads at once

    def _transport(self, tls: bool) -> httpx.HTTPTransport:
        with self._lock:
            transport = self._transports.get(tls)
            if transport is None:
                if tls:
                    verify: ssl.SSLContext | bool = tls_verification()
                else:
                    import ssl

                    verify = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies; trusts nothing
                transport = httpx.HTTPTransport(verify=verify, limits=self._limits)
                self._transports[tls] = transport
            return transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._transport(request.url.scheme == "https").handle_request(request)

    def close(self) -> None:
        with self._lock:
            transports = list(self._transports.values())
            self._transports.clear()
        for transport in transports:
            transport.close()


@dataclass
class RetryPolicy:
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    retry_budget: float = 45.0

    def backoff(self, attempt: int) -> float:
        """Full jitter: a uniform delay up to base * 2^attempt, capped."""
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * (2**attempt)))


@dataclass
class Exchange:
    """One attempt of one request, as `--verbose` shows it."""

    method: str
    url: str
    attempt: int
    elapsed: float
    request_headers: Mapping[str, str]
    request_body: bytes | None
    status: int | None = None
    response_headers: Mapping[str, str] = field(default_factory=dict)
    response_body: bytes | None = None
    error: str | None = None
    retry_in: float | None = None


Trace = Callable[[Exchange], None]


# Said of a request httpx refuses to write; never with the value itself, which may be a token.
UNSENDABLE = "the request could not be sent: a header or the URL holds characters HTTP forbids"


def describe_transport_error(exc: Exception, timeout: float) -> str:
    """A short cause for an httpx transport error, without its URL or headers."""
    if isinstance(exc, httpx.ConnectTimeout):
        return f"could not connect within {timeout:g} s"
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout:g} s (SK_HTTP_TIMEOUT)"
    if isinstance(exc, httpx.ConnectError):
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            detail = str(exc).rsplit("certificate verify failed:", 1)[-1].split("(_ssl", 1)[0]
            return (
                f"TLS certificate verification failed ({detail.strip() or 'untrusted'}); behind "
                "a proxy that re-signs TLS, set SSL_CERT_FILE to its CA bundle"
            )
        cause = str(exc).split("] ", 1)[-1].strip() or "connection failed"
        return cause[0].lower() + cause[1:]
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection was closed before a complete answer"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return "the connection was reset"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "unsupported URL scheme"
    if isinstance(exc, httpx.LocalProtocolError):
        return UNSENDABLE
    if isinstance(exc, httpx.DecodingError):
        return "the answer's body could not be decoded (its Content-Encoding is broken)"
    return type(exc).__name__


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class HttpSession:
    """A keep-alive httpx client with the retry policy above; thread-safe for concurrent reads."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        trace: Trace | None = None,
        user_agent: str = "scalekit-cli",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.trace = trace
        self._sleep = sleep
        limits = httpx.Limits(max_connections=20, max_keepalive_connections=20)
        if transport is None and not _proxies_configured():
            transport = DeferredTlsTransport(limits)
        self._client = httpx.Client(
            timeout=timeout,
            transport=transport,
            # An in-process transport (the embedded sandbox) has no TLS to verify; the
            # deferred one verifies with tls_verification() itself.
            verify=tls_verification() if transport is None else True,
            headers={"user-agent": user_agent},
            follow_redirects=False,
            limits=limits,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool,
        params: Any = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str | bytes] | None = None,
    ) -> httpx.Response:
        """Send with retries; an answer of any status is returned, a transport failure raised."""
        try:
            request = self._client.build_request(
                method, url, params=params, json=json, data=data, content=content, headers=headers
            )
        except (httpx.InvalidURL, UnicodeEncodeError):
            # A value (a server's token, say) that HTTP cannot carry: say so, without the value.
            raise NetworkError(UNSENDABLE, host=urlsplit(url).hostname or "") from None
        retryable_statuses = RETRY_STATUSES_IDEMPOTENT if idempotent else RETRY_STATUSES_ANY
        started = time.monotonic()
        attempt = 0
        while True:
            attempt_started = time.monotonic()
            try:
                response = self._client.send(request)
                response.read()
            except (httpx.TransportError, httpx.DecodingError) as exc:
                cause = describe_transport_error(exc, self.timeout)
                # A connection that never opened carried nothing: safe to retry any call.
                never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                # A request httpx refuses to write will be refused again: no retry.
                repeatable = (idempotent or never_sent) and not isinstance(
                    exc, httpx.LocalProtocolError
                )
                timed_out = isinstance(exc, httpx.TimeoutException)
                delay = (
                    self._next_delay(attempt, started, None, after_timeout=timed_out)
                    if repeatable
                    else None
                )
                self._emit(request, attempt, attempt_started, error=cause, retry_in=delay)
                if delay is None:
                    raise NetworkError(cause, host=request.url.host) from None
                self._sleep(delay)
                attempt += 1
                continue
            delay = None
            if response.status_code in retryable_statuses:
                delay = self._next_delay(attempt, started, retry_after_seconds(response))
            self._emit(request, attempt, attempt_started, response=response, retry_in=delay)
            if delay is None:
                return response
            self._sleep(delay)
            attempt += 1

    def _next_delay(
        self,
        attempt: int,
        started: float,
        retry_after: float | None,
        *,
        after_timeout: bool = False,
    ) -> float | None:
        """The pause before the next attempt, or None when no retry is left.

        The budget bounds the whole call: after a timeout the next attempt may take the full
        timeout again, so it is started only if that too fits. A server asking for a longer
        wait than we would give it (`Retry-After` over the cap) gets its answer returned."""
        if attempt >= self.retry.max_retries:
            return None
        if retry_after is not None:
            if retry_after > _RETRY_AFTER_CAP_SECONDS:
                return None
            delay = retry_after
        else:
            delay = self.retry.backoff(attempt)
        worst_next_attempt = self.timeout if after_timeout else 0.0
        if time.monotonic() - started + delay + worst_next_attempt > self.retry.retry_budget:
            return None
        return delay

    def _emit(
        self,
        request: httpx.Request,
        attempt: int,
        attempt_started: float,
        *,
        response: httpx.Response | None = None,
        error: str | None = None,
        retry_in: float | None = None,
    ) -> None:
        if self.trace is None:
            return
        self.trace(
            Exchange(
                method=request.method,
                url=str(request.url),
                attempt=attempt,
                elapsed=time.monotonic() - attempt_started,
                request_headers=dict(request.headers),
                request_body=request.content if request.content else None,
                status=response.status_code if response is not None else None,
                response_headers=dict(response.headers) if response is not None else {},
                response_body=response.content if response is not None else None,
                error=error,
                retry_in=retry_in,
            )
        )
