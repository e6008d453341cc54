"""One HTTP session for a command: httpx underneath, sk's policies above it.

Retry policy:
- idempotent calls (reads, the token exchange, link requests) are retried on connection
  failures, timeouts and 429 / 500 / 502 / 503 / 504;
- other calls (account creation, tool execution, deletion, verification) only when the request
  provably never reached the server: a connection that could not be opened, or 429 (the server
  refused it unprocessed). A create or a tool run is never blindly repeated;
- a failure that would come again (an untrusted certificate, a proxy refusing the request, an
  oversized answer) is never retried.
Delays grow exponentially with full jitter and honour `Retry-After`; at most `max_retries`
retries, and none is started once `retry_budget` seconds have gone by.

Each attempt ends within `timeout` seconds (SK_HTTP_TIMEOUT) — connection, request and the
whole answer — and by the session's `deadline` when one is set; the answer's body is read up
to `MAX_BODY_BYTES`. Connections, TLS and proxies are transport.py's; the embedded sandbox is
another httpx transport (sandbox/embedded.py).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import NetworkError, ScalekitError

if TYPE_CHECKING:
    import httpx

__all__ = ["Exchange", "HttpSession", "Response", "RetryPolicy", "Trace"]

RETRY_STATUSES_IDEMPOTENT = frozenset({429, 500, 502, 503, 504})
RETRY_STATUSES_ANY = frozenset({429})
_RETRY_AFTER_CAP_SECONDS = 30.0
# The largest answer body read, after decoding: a hostile server's endless (or 1000:1
# compressed) body ends as an error, not as all of the machine's memory. Gmail's own messages
# stop at 25 MB (35 MB once base64-encoded), well inside.
MAX_BODY_BYTES = 256 * 1024 * 1024
ACCEPT_ENCODING = "gzip, deflate"

# Said of a request that cannot be written; never with the value itself, which may be a token.
UNSENDABLE = "the request could not be sent: a header or the URL holds characters HTTP forbids"
CLOSED_EARLY = "the connection was closed before a complete answer"
NOT_HTTP = "the answer was not valid HTTP"

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # fullmatch only: `$` allows a final \n
_FORBIDDEN_IN_VALUE = re.compile(rb"[\x00\r\n]")
# A host as the socket layer takes it (a name in its IDNA form): labels of letters, digits,
# '-' and '_'. httpx leaves a space or an empty label to fail in name resolution.
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


@dataclass
class RetryPolicy:
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    retry_budget: float = 45.0

    def backoff(self, attempt: int) -> float:
        """Full jitter: a uniform delay up to base * 2^attempt, capped."""
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * (2**attempt)))


@dataclass(frozen=True)
class SentRequest:
    """What an answer answers: enough to name the call in an error."""

    method: str
    url: str
    host: str
    path: str


@dataclass
class Response:
    """A whole answer: status, fields (httpx.Headers: case-insensitive, `get_list` for a
    repeated one), the decoded body, and the request it answers."""

    request: SentRequest
    status_code: int
    reason_phrase: str
    headers: httpx.Headers
    content: bytes
    elapsed: float = 0.0  # seconds to the answer's header block, connection set-up included

    @property
    def host(self) -> str:
        return self.request.host

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


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


@dataclass
class _Failure(Exception):
    """No HTTP answer. `cause` is short, without URL, headers or values."""

    cause: str
    never_sent: bool = False  # the request provably never reached the server
    repeatable: bool = True  # sending it again could turn out differently
    timed_out: bool = False


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


def _host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _check_sendable(method: str, url: httpx.URL, headers: Mapping[str, str | bytes] | None) -> None:
    """Refuse, before any connection opens, what h11 or the resolver would refuse only then."""
    if not _TOKEN.fullmatch(method):
        raise _Failure(UNSENDABLE, repeatable=False)
    host = url.raw_host.decode("ascii", "replace")
    if ":" not in host:  # an IPv6 literal was checked by httpx
        labels = host.removesuffix(".").split(".")
        if len(host) > 254 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
            raise _Failure(UNSENDABLE, repeatable=False)
    for name, value in (headers or {}).items():
        raw = value.encode("ascii") if isinstance(value, str) else bytes(value)
        if not _TOKEN.fullmatch(name) or _FORBIDDEN_IN_VALUE.search(raw):
            raise _Failure(UNSENDABLE, repeatable=False)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def os_cause(exc: BaseException) -> str:
    """`[Errno 111] Connection refused` → `connection refused`."""
    cause = str(exc).split("] ", 1)[-1].strip() or "connection failed"
    return cause[0].lower() + cause[1:]


# OpenSSL's reasons for a handshake that met something other than TLS (a plain-HTTP server).
_NOT_TLS_REASONS = frozenset({"WRONG_VERSION_NUMBER", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST"})
# OpenSSL's reasons for a handshake that the same server will refuse again the same way: no
# common protocol version or cipher, or the server's handshake_failure / protocol_version alert.
_FINAL_TLS_REASONS = frozenset(
    {
        "UNSUPPORTED_PROTOCOL",
        "NO_PROTOCOLS_AVAILABLE",
        "NO_SHARED_CIPHER",
        "NO_CIPHERS_AVAILABLE",
        "SSLV3_ALERT_HANDSHAKE_FAILURE",
        "TLSV1_ALERT_PROTOCOL_VERSION",
        "TLSV1_ALERT_INSUFFICIENT_SECURITY",
    }
)


def _failure(exc: Exception, timeout: float, by_deadline: bool) -> _Failure:
    """What an httpx transport failure was, and whether sending again could help."""
    import ssl

    from .. import httpx_lean as httpx

    if isinstance(exc, httpx.TimeoutException):
        if by_deadline:
            cause = "no answer before the command's time limit"
        elif isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            cause = f"could not connect within {timeout:g} s"
        else:
            cause = f"no answer within {timeout:g} s (SK_HTTP_TIMEOUT)"
        never_sent = isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
        return _Failure(cause, never_sent=never_sent, timed_out=True)
    if isinstance(exc, httpx.ProxyError):
        # httpcore says "<status> <the proxy's reason>"; the reason is the proxy's own text,
        # and any credential it quotes is registered, and scrubbed, as a secret.
        status = str(exc)[:3]
        refused = status.isdigit() and 400 <= int(status) < 500
        return _Failure(
            f"the proxy refused the tunnel: {exc}", never_sent=True, repeatable=not refused
        )
    if isinstance(exc, httpx.ConnectError):
        for cause in _causes(exc):
            if isinstance(cause, ssl.SSLCertVerificationError):
                detail = str(cause).rsplit("certificate verify failed:", 1)[-1]
                detail = detail.split("(_ssl", 1)[0].strip() or "untrusted"
                # The same certificate would be refused again: one handshake, no retry.
                return _Failure(
                    f"TLS certificate verification failed ({detail}); behind a proxy that "
                    "re-signs TLS, set SSL_CERT_FILE to its CA bundle",
                    never_sent=True,
                    repeatable=False,
                )
            if isinstance(cause, ssl.SSLError):
                reason = cause.reason or ""
                if reason in _NOT_TLS_REASONS:
                    return _Failure(
                        f"TLS handshake failed ({reason}): the server does not speak TLS "
                        "there; is the URL http:// rather than https://?",
                        never_sent=True,
                        repeatable=False,
                    )
                # Versions, ciphers or the server's refusal would be met again: no retry. A
                # connection cut mid-handshake (no such reason) may go through next time.
                final = reason in _FINAL_TLS_REASONS
                return _Failure(
                    f"TLS handshake failed: {reason or cause}",
                    never_sent=True,
                    repeatable=not final,
                )
        return _Failure(os_cause(exc), never_sent=True)
    if isinstance(exc, httpx.RemoteProtocolError):
        text = str(exc).lower()
        closed = "disconnected" in text or "peer closed" in text
        return _Failure(CLOSED_EARLY if closed else NOT_HTTP)
    if isinstance(exc, httpx.LocalProtocolError | httpx.UnsupportedProtocol):
        return _Failure(UNSENDABLE, repeatable=False)
    if isinstance(exc, httpx.DecodingError):
        return _Failure("the answer's body could not be decoded (its Content-Encoding is broken)")
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        if any(isinstance(c, ConnectionResetError | BrokenPipeError) for c in _causes(exc)):
            return _Failure("the connection was reset")
        return _Failure(os_cause(exc))
    return _Failure(str(exc) or type(exc).__name__)


def _check_json_body(document: Any) -> None:
    """ScalekitError (not a NetworkError: nothing is wrong with the network) for a body JSON
    cannot carry. httpx raises the same ValueError for it as for a header HTTP forbids, so the
    body is tried on its own first; sk's bodies are small, the second encoding is cheap."""
    import json as jsonlib

    try:
        jsonlib.dumps(document, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ScalekitError(
            "the request body holds a lone surrogate (such as \\ud800), which is not Unicode"
        ) from None
    except ValueError:
        # NaN and Infinity: Python writes them, JSON has no such values.
        raise ScalekitError(
            "the request body is not JSON: NaN and Infinity are not JSON values"
        ) from None
    except (TypeError, RecursionError):
        raise ScalekitError("the request body cannot be written as JSON") from None


class HttpSession:
    """Keep-alive connections with the retry policy above; thread-safe for concurrent reads."""

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
        self.user_agent = user_agent
        self._sleep = sleep
        self._transport = transport
        self._client: httpx.Client | None = None
        self._deadline: float | None = None

    @property
    def client(self) -> httpx.Client:
        """The httpx client, built on first use (nothing of httpx is loaded before)."""
        if self._client is None:
            from .. import httpx_lean as httpx
            from .transport import NetworkTransport

            self._client = httpx.Client(
                transport=self._transport if self._transport is not None else NetworkTransport(),
                # The environment's proxies and CA variables are read by our transport, not
                # by httpx (which would mount transports of its own for them).
                trust_env=False,
                follow_redirects=False,
                timeout=self.timeout,
                headers={"user-agent": self.user_agent, "accept-encoding": ACCEPT_ENCODING},
            )
        return self._client

    @contextmanager
    def deadline(self, at: float) -> Iterator[None]:
        """Requests sent inside end by `at` (a time.monotonic() value): an attempt ends by
        then, whatever the server does, and no retry starts after it — a command's own time
        limit (`sk connect --timeout`) then holds against a server that accepts and never
        answers. A deadline inside another can only shorten it. For one thread's sequence of
        calls: the limit is the session's while it lasts."""
        previous = self._deadline
        self._deadline = at if previous is None else min(previous, at)
        try:
            yield
        finally:
            self._deadline = previous

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        elif self._transport is not None:
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
        from .. import httpx_lean as httpx

        host = _host_of(url)
        try:
            target = httpx.URL(url)
            if params:
                # Added to the URL's own query, which httpx's `params=` would replace.
                target = target.copy_merge_params(params)
            if target.raw_host.endswith(b"."):
                # An absolute name: certificates and Host fields name the host without the dot.
                target = target.copy_with(host=target.host.removesuffix("."))
            _check_sendable(method, target, headers)
            if json is not None:
                _check_json_body(json)
            request = self.client.build_request(
                method.upper(),
                target,
                json=json,
                data=data,
                content=content,
                headers=headers,
            )
        except _Failure as failure:
            raise NetworkError(failure.cause, host=host) from None
        except httpx.UnsupportedProtocol:
            raise NetworkError("unsupported URL scheme", host=host) from None
        except (httpx.InvalidURL, UnicodeError, ValueError, TypeError):
            # A value (a server's token, say) HTTP cannot carry: say so, without the value.
            raise NetworkError(UNSENDABLE, host=host) from None
        sent = SentRequest(request.method, str(request.url), request.url.host, request.url.path)
        retryable_statuses = RETRY_STATUSES_IDEMPOTENT if idempotent else RETRY_STATUSES_ANY
        started = time.monotonic()
        attempt = 0
        while True:
            attempt_started = time.monotonic()
            try:
                response = self._attempt(request, sent)
            except _Failure as failure:
                # A connection that never opened carried nothing: safe to retry any call.
                repeatable = (idempotent or failure.never_sent) and failure.repeatable
                delay = (
                    self._next_delay(attempt, started, None, after_timeout=failure.timed_out)
                    if repeatable
                    else None
                )
                self._emit(request, attempt, attempt_started, error=failure.cause, retry_in=delay)
                if delay is None:
                    raise NetworkError(failure.cause, host=sent.host) from None
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

    def _attempt(self, request: httpx.Request, sent: SentRequest) -> Response:
        """One attempt, ended by its deadline: SK_HTTP_TIMEOUT from now, or the session's
        deadline if that comes first."""
        from .. import httpx_lean as httpx
        from .transport import request_deadline

        now = time.monotonic()
        deadline = now + self.timeout
        by_deadline = self._deadline is not None and self._deadline < deadline
        if by_deadline:
            deadline = max(self._deadline or now, now + 0.01)
        # httpx's per-operation timeouts (all a transport other than ours, the embedded
        # sandbox's, sees), each no longer than the time left.
        request.extensions["timeout"] = httpx.Timeout(deadline - now).as_dict()
        try:
            with request_deadline(deadline):
                reply = self.client.send(request, stream=True)
                elapsed = time.monotonic() - now
                try:
                    chunks: list[bytes] = []
                    size = 0
                    for chunk in reply.iter_bytes():
                        size += len(chunk)
                        if size > MAX_BODY_BYTES:
                            raise _Failure(
                                f"the answer is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB",
                                repeatable=False,
                            )
                        chunks.append(chunk)
                        if time.monotonic() > deadline:
                            raise httpx.ReadTimeout("the deadline passed", request=request)
                finally:
                    reply.close()
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise _failure(exc, self.timeout, by_deadline) from None
        return Response(
            sent, reply.status_code, reply.reason_phrase, reply.headers, b"".join(chunks), elapsed
        )

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
        request: httpx.Request,
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
                url=str(request.url),
                attempt=attempt,
                elapsed=time.monotonic() - attempt_started,
                request_headers=dict(request.headers),
                request_body=request.content or None,
                status=response.status_code if response is not None else None,
                response_headers=dict(response.headers) if response is not None else {},
                response_body=response.content if response is not None else None,
                error=error,
                retry_in=retry_in,
            )
        )
