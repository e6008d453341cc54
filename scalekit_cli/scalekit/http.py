"""One HTTP session for a command: keep-alive connections, bounded retries, tracing.

Retry policy:
- idempotent calls (reads, the token exchange, link requests) are retried on connection
  failures, timeouts and 429 / 500 / 502 / 503 / 504;
- other calls (account creation, tool execution, deletion, verification) only when the request
  provably never reached the server: a connection that could not be opened, or 429 (the server
  refused it unprocessed). A create or a tool run is never blindly repeated.
Delays grow exponentially with full jitter and honour `Retry-After`; at most `max_retries`
retries, and none is started once `retry_budget` seconds have gone by.

The wire itself (connections, TLS, proxies, decoding) is wire.py's; the session only decides
what to send again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from . import wire
from .errors import NetworkError
from .wire import Response, Transport

__all__ = ["Exchange", "HttpSession", "Response", "RetryPolicy", "Trace"]

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


def retry_after_seconds(response: Response) -> float | None:
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
    """Keep-alive connections with the retry policy above; thread-safe for concurrent reads."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        transport: Transport | None = None,
        retry: RetryPolicy | None = None,
        trace: Trace | None = None,
        user_agent: str = "scalekit-cli",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.trace = trace
        self.user_agent = user_agent
        self._sleep = sleep
        self._transport = transport if transport is not None else wire.StdlibTransport()
        self._deadline: float | None = None

    @contextmanager
    def deadline(self, at: float) -> Iterator[None]:
        """Requests sent inside end by `at` (a time.monotonic() value): an attempt waits at most
        until then, and no retry starts after it — a command's own time limit (`sk connect
        --timeout`) then holds against a server that accepts and never answers. For one
        thread's sequence of calls: the limit is the session's while it lasts."""
        previous, self._deadline = self._deadline, at
        try:
            yield
        finally:
            self._deadline = previous

    def _attempt_timeout(self) -> tuple[float, bool]:
        """This attempt's timeout, and whether the deadline (not SK_HTTP_TIMEOUT) set it."""
        if self._deadline is None:
            return self.timeout, False
        left = max(0.01, self._deadline - time.monotonic())
        return (left, True) if left < self.timeout else (self.timeout, False)

    def close(self) -> None:
        self._transport.close()

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
    ) -> Response:
        """Send with retries; an answer of any status is returned, a transport failure raised."""
        try:
            request = wire.build_request(
                method,
                url,
                params=params,
                json=json,
                data=data,
                content=content,
                headers=headers,
                user_agent=self.user_agent,
            )
        except wire.Unsendable as exc:
            # A value (a server's token, say) that HTTP cannot carry: say so, without the value.
            from urllib.parse import urlsplit

            try:
                host = urlsplit(url).hostname or ""
            except ValueError:
                host = ""
            raise NetworkError(str(exc), host=host) from None
        retryable_statuses = RETRY_STATUSES_IDEMPOTENT if idempotent else RETRY_STATUSES_ANY
        started = time.monotonic()
        attempt = 0
        while True:
            attempt_started = time.monotonic()
            timeout, by_deadline = self._attempt_timeout()
            try:
                response = self._transport.send(request, timeout)
            except wire.TransportError as exc:
                cause = str(exc)
                if exc.timed_out and by_deadline:
                    cause = "no answer before the command's time limit"
                # A connection that never opened carried nothing: safe to retry any call.
                repeatable = (idempotent or exc.never_sent) and exc.repeatable
                delay = (
                    self._next_delay(attempt, started, None, after_timeout=exc.timed_out)
                    if repeatable
                    else None
                )
                self._emit(request, attempt, attempt_started, error=cause, retry_in=delay)
                if delay is None:
                    raise NetworkError(cause, host=request.host) from None
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
        if self._deadline is not None and time.monotonic() + delay >= self._deadline:
            return None
        worst_next_attempt = self.timeout if after_timeout else 0.0
        if time.monotonic() - started + delay + worst_next_attempt > self.retry.retry_budget:
            return None
        return delay

    def _emit(
        self,
        request: wire.Request,
        attempt: int,
        attempt_started: float,
        *,
        response: Response | None = None,
        error: str | None = None,
        retry_in: float | None = None,
    ) -> None:
        if self.trace is None:
            return
        self.trace(
            Exchange(
                method=request.method,
                url=request.url,
                attempt=attempt,
                elapsed=time.monotonic() - attempt_started,
                request_headers=request.headers(),
                request_body=request.body if request.body else None,
                status=response.status_code if response is not None else None,
                response_headers=dict(response.headers) if response is not None else {},
                response_body=response.content if response is not None else None,
                error=error,
                retry_in=retry_in,
            )
        )
