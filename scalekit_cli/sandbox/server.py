"""`serve`: the sandbox on a real socket, for `sk sandbox serve` and the embedded sandbox's
loopback server.

One ASGI server, hypercorn, for every case: it serves HTTP/1.1 (REST, the hosted page, Gmail,
admin) and HTTP/2 (gRPC, with the `[grpc]` extra) on one port, chosen by ALPN under TLS and by
the HTTP/2 connection preface in plaintext (prior knowledge).

Whatever the server or asyncio would log goes out as one line per record, without a
traceback (a `drop` fault's cut connection not at all): no raw library log line on stderr.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sqlite3
import ssl
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .settings import SandboxSettings

if TYPE_CHECKING:
    import hypercorn.config

    from .seed import Seed
    from .tls import SandboxTls

_LOGGER = "scalekit_cli.sandbox.server"


class ServeError(Exception):
    """A failure of `serve` that the user's input caused (a busy port, a host name that does
    not resolve, a state file that cannot be opened): its text is one sentence to show."""


def url_for(host: str, port: int, scheme: str = "http") -> str:
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port; ServeError naming both when that cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Say IPPROTO_TCP: asyncio sets TCP_NODELAY only on such sockets, and without it each
    # keep-alive response stalls ~40 ms (Nagle against delayed ACKs).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as error:  # busy port, unknown host (gaierror), no such address here
        sock.close()
        reason = error.strerror or str(error)
        raise ServeError(f"cannot listen on {host}:{port}: {reason}") from None
    sock.set_inheritable(True)
    return sock


class _OneLine(logging.Handler):
    """Each record as one line through `write`: the message without its traceback (it would
    hold local values; the message names what failed)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self._write = write

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        info = record.exc_info
        if info and info[1] is not None:
            message = f"{message}: {type(info[1]).__name__}: {info[1]}"
        self._write(" ".join(message.split()))


def _stderr_line(text: str) -> None:
    sys.stderr.write(f"sandbox: {text}\n")
    sys.stderr.flush()


def server_logger(write: Callable[[str], None] | None = None) -> logging.Logger:
    """The logger hypercorn reports to (its `errorlog`): one line per record through `write`
    (default: `sandbox: …` on stderr), a deliberately dropped connection not at all."""
    from .app import HideDroppedConnections

    logger = logging.getLogger(_LOGGER)
    handler = _OneLine(write or _stderr_line)
    handler.addFilter(HideDroppedConnections())
    logger.handlers = [handler]
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    return logger


# What a connection's close can raise when the peer has gone or misbehaves while closing.
_TEARDOWN_ERRORS = (TimeoutError, ConnectionError, ssl.SSLError)


def _loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """asyncio's unhandled errors: a client that vanished mid-close is no error of the
    sandbox's; anything else is one line on the server's logger, not asyncio's traceback."""
    error = context.get("exception")
    if isinstance(error, _TEARDOWN_ERRORS):
        return
    message = str(context.get("message") or "unhandled error in the event loop")
    if error is not None:
        message = f"{message}: {type(error).__name__}: {error}"
    logging.getLogger(_LOGGER).warning("%s", message)


def _config(sock: socket.socket, tls: SandboxTls | None) -> hypercorn.config.Config:
    import hypercorn.config

    config = hypercorn.config.Config()
    sock.listen(config.backlog)  # accepts queue from here on, before the loop runs
    # hypercorn owns (and closes at shutdown) a duplicate: the caller's socket stays usable
    # (its address), and closing it is the caller's business.
    config.bind = [f"fd://{os.dup(sock.fileno())}"]
    config.errorlog = logging.getLogger(_LOGGER)
    config.accesslog = None
    config.keep_alive_timeout = 30
    config.graceful_timeout = 5
    if tls is not None:
        config.certfile = str(tls.cert_path)
        config.keyfile = str(tls.key_path)
    return config


class LoopbackServer:
    """hypercorn serving one app on an already bound socket, driven like this: `await
    serve(sockets=[sock])` on an event loop; `started` once it accepts; `should_exit = True`
    (from any thread) to stop it, waiting up to the graceful timeout for open requests."""

    def __init__(self, app: Any, tls: SandboxTls | None = None) -> None:
        self.app = app
        self.tls = tls
        self.started = False
        self._exit = False
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def should_exit(self) -> bool:
        return self._exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._exit = value
        loop, stopping = self._loop, self._stopping
        if value and loop is not None and stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)

    async def serve(self, sockets: list[socket.socket]) -> None:
        import hypercorn.asyncio

        (sock,) = sockets
        self._stopping = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._loop.set_exception_handler(_loop_exception)
        if not logging.getLogger(_LOGGER).handlers:
            server_logger()
        config = _config(sock, self.tls)
        if self._exit:
            return

        def listening() -> None:
            self.started = True

        self._loop.call_soon(listening)  # the socket already listens; accepts queue
        await hypercorn.asyncio.serve(self.app, config, shutdown_trigger=self._stopping.wait)


def make_server(app: Any, tls: SandboxTls | None = None) -> LoopbackServer:
    return LoopbackServer(app, tls)


def serve(
    settings: SandboxSettings,
    host: str = "127.0.0.1",
    port: int = 8765,
    ready: Callable[[str], None] | None = None,
    *,
    grpc: bool = False,
    tls: SandboxTls | None = None,
    warn: Callable[[str], None] | None = None,
    seed: Seed | None = None,
) -> None:
    """Serve until Ctrl-C or SIGTERM, then return normally. `ready(base_url)` runs once the
        socket listens (port 0 picks a free port, reported through `ready`). `grpc` adds the gRPC
        face; `tls` serves HTTPS with that certificate. `warn` gets the server's own log lines.
    `seed` replaces the state before the socket answers.
        Raises ServeError for what the user can fix (see the class)."""
    from .app import create_app

    sock = bind_socket(host, port)
    try:
        try:
            app = create_app(settings, grpc=grpc)
        except (sqlite3.Error, OSError) as error:  # not a database, a file as its folder, …
            reason = getattr(error, "strerror", None) or str(error)
            raise ServeError(
                f"cannot open the sandbox state {settings.state_path}: {reason}"
            ) from None
        if seed is not None:
            from .seed import apply_seed

            apply_seed(app.state.sandbox, seed)
        app.state.served_hosts.add(host.strip("[]").lower())  # what Host headers may name
        base_url = url_for(host, sock.getsockname()[1], "https" if tls else "http")
        try:
            _run(LoopbackServer(app, tls), sock, base_url, ready, warn, tls is not None)
        finally:
            app.state.sandbox.close()
    finally:
        sock.close()


def _install_stop_handlers(stop: Callable[[], None]) -> dict[int, Any]:
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda signum, frame: stop())
    return previous


def _restore_handlers(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def _run(
    server: LoopbackServer,
    sock: socket.socket,
    base_url: str,
    ready: Callable[[str], None] | None,
    warn: Callable[[str], None] | None,
    tls: bool,
) -> None:
    server_logger(warn)
    loop = asyncio.new_event_loop()
    if tls:
        # On shutdown hypercorn closes idle connections; a TLS close then waits for the peer's
        # close_notify, which grpc-core does not send, for asyncio's default 30 s. This
        # process serves only the sandbox: a short wait is what Ctrl-C should cost.
        asyncio.constants.SSL_SHUTDOWN_TIMEOUT = 2.0  # type: ignore[attr-defined]

    def stop() -> None:
        server.should_exit = True

    async def run() -> None:
        if ready is not None:
            loop.call_soon(ready, base_url)
        await server.serve(sockets=[sock])

    previous = _install_stop_handlers(stop)
    try:
        loop.run_until_complete(run())
    except KeyboardInterrupt:  # a signal that arrived before our handler was installed
        pass
    except _TEARDOWN_ERRORS:
        if not server.should_exit:
            raise  # not a connection closing at shutdown
    finally:
        _restore_handlers(previous)
        loop.close()
