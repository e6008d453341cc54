"""One HTTP session for a command: a single httpx client (keep-alive), bounded retries, tracing.

Retry policy:
- idempotent calls (reads, the token exchange, link requests) are retried on connection
  failures, timeouts and 429 / 500 / 502 / 503 / 504;
- other calls (account creation, tool execution, deletion, verification) only when the request
  provably never reached the server: a connection that could not be opened, or 429 (the server
  refused it unprocessed). A create or a tool run is never blindly repeated.
Delays grow exponentially with full jitter and honour `Retry-After`; at most `max_retries`
retries, and none is started once `retry_budget` seconds have gone by.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from . import _httpx as httpx
from .errors import NetworkError

RETRY_STATUSES_IDEMPOTENT = frozenset({429, 500, 502, 503, 504})
RETRY_STATUSES_ANY = frozenset({429})
_RETRY_AFTER_CAP_SECONDS = 30.0


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


def describe_transport_error(exc: Exception, timeout: float) -> str:
    """A short cause for an httpx transport error, without its URL or headers."""
    if isinstance(exc, httpx.ConnectTimeout):
        return f"could not connect within {timeout:g} s"
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout:g} s (SK_HTTP_TIMEOUT)"
    if isinstance(exc, httpx.ConnectError):
        cause = str(exc).split("] ", 1)[-1].strip() or "connection failed"
        return cause[0].lower() + cause[1:]
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection was closed before a complete answer"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return "the connection was reset"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "unsupported URL scheme"
    return type(exc).__name__


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
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
        self._client = httpx.Client(
            timeout=timeout,
            transport=transport,
            headers={"user-agent": user_agent},
            follow_redirects=False,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=20),
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
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send with retries; an answer of any status is returned, a transport failure raised."""
        request = self._client.build_request(
            method, url, params=params, json=json, data=data, headers=headers
        )
        retryable_statuses = RETRY_STATUSES_IDEMPOTENT if idempotent else RETRY_STATUSES_ANY
        started = time.monotonic()
        attempt = 0
        while True:
            attempt_started = time.monotonic()
            try:
                response = self._client.send(request)
                response.read()
            except httpx.TransportError as exc:
                cause = describe_transport_error(exc, self.timeout)
                # A connection that never opened carried nothing: safe to retry any call.
                never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                delay = (
                    self._next_delay(attempt, started, None) if (idempotent or never_sent) else None
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

    def _next_delay(self, attempt: int, started: float, retry_after: float | None) -> float | None:
        """The pause before the next attempt, or None when no retry is left."""
        if attempt >= self.retry.max_retries:
            return None
        if retry_after is not None:
            delay = min(retry_after, _RETRY_AFTER_CAP_SECONDS)
        else:
            delay = self.retry.backoff(attempt)
        if time.monotonic() - started + delay > self.retry.retry_budget:
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
