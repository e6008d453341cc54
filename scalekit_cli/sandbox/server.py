"""`serve`: the sandbox on a real socket, for `sk sandbox serve`.

With the `[grpc]` extra, hypercorn serves both faces on one port: HTTP/1.1 (REST, the hosted
page, Gmail, admin) and HTTP/2 (gRPC), chosen by ALPN under TLS and by the HTTP/2 connection
preface in plaintext (prior knowledge). Without it, uvicorn serves the REST face alone, as
the embedded sandbox's loopback server always does (it is the lighter of the two).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .settings import SandboxSettings

if TYPE_CHECKING:
    import uvicorn

    from .tls import SandboxTls


def url_for(host: str, port: int, scheme: str = "http") -> str:
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Say IPPROTO_TCP: asyncio sets TCP_NODELAY only on such sockets, and without it each
    # keep-alive response stalls ~40 ms (Nagle against delayed ACKs).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def make_server(app: Any) -> uvicorn.Server:
    import uvicorn

    class _Server(uvicorn.Server):
        # uvicorn re-raises a captured SIGINT/SIGTERM after shutting down, which would turn
        # a clean Ctrl-C into a KeyboardInterrupt traceback; the caller handles signals instead.
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", timeout_keep_alive=30, access_log=False
    )
    return _Server(config)


def serve(
    settings: SandboxSettings,
    host: str = "127.0.0.1",
    port: int = 8765,
    ready: Callable[[str], None] | None = None,
    *,
    grpc: bool = False,
    tls: SandboxTls | None = None,
) -> None:
    """Serve until Ctrl-C or SIGTERM, then return normally. `ready(base_url)` runs once the
    socket listens (port 0 picks a free port, reported through `ready`). `grpc` adds the gRPC
    face (hypercorn); `tls` (needs `grpc`) serves HTTPS with that certificate."""
    from .app import create_app

    if tls is not None and not grpc:
        raise ValueError("TLS is served by the gRPC-capable server: pass grpc=True")
    app = create_app(settings, grpc=grpc)
    app.state.served_hosts.add(host.strip("[]").lower())  # what Host headers may name
    sock = bind_socket(host, port)
    base_url = url_for(host, sock.getsockname()[1], "https" if tls else "http")
    try:
        if grpc:
            _serve_hypercorn(app, sock, base_url, ready, tls)
        else:
            _serve_uvicorn(app, sock, base_url, ready)
    finally:
        sock.close()
        app.state.sandbox.close()


def _install_stop_handlers(stop: Callable[[], None]) -> dict[int, Any]:
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda signum, frame: stop())
    return previous


def _restore_handlers(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def _serve_uvicorn(
    app: Any, sock: socket.socket, base_url: str, ready: Callable[[str], None] | None
) -> None:
    server = make_server(app)

    def stop() -> None:
        if server.should_exit:  # a second Ctrl-C: stop waiting for open connections
            server.force_exit = True
        server.should_exit = True

    async def run() -> None:
        serving = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if server.started and ready is not None:
            ready(base_url)
        await serving

    previous = _install_stop_handlers(stop)
    try:
        asyncio.run(run())
    except KeyboardInterrupt:  # a signal that arrived before our handler was installed
        pass
    finally:
        _restore_handlers(previous)


def _hypercorn_logger() -> logging.Logger:
    from .app import HideDroppedConnections

    logger = logging.getLogger("scalekit_cli.sandbox.server")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("sandbox: %(message)s"))
        handler.addFilter(HideDroppedConnections())
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False
    return logger


# What a connection's close can raise when the peer has gone or misbehaves while closing.
_TEARDOWN_ERRORS = (TimeoutError, ConnectionError, ssl.SSLError)


def _quiet_connection_teardown(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A client that vanished mid-close is no error of the sandbox's: no traceback for it."""
    if isinstance(context.get("exception"), _TEARDOWN_ERRORS):
        return
    loop.default_exception_handler(context)


def _serve_hypercorn(
    app: Any,
    sock: socket.socket,
    base_url: str,
    ready: Callable[[str], None] | None,
    tls: SandboxTls | None,
) -> None:
    import hypercorn.asyncio
    import hypercorn.config

    config = hypercorn.config.Config()
    sock.listen(config.backlog)  # accepts queue from here on, before the loop runs
    config.bind = [f"fd://{sock.detach()}"]
    config.errorlog = _hypercorn_logger()
    config.accesslog = None
    config.keep_alive_timeout = 30
    config.graceful_timeout = 5
    if tls is not None:
        config.certfile = str(tls.cert_path)
        config.keyfile = str(tls.key_path)
    stopping = asyncio.Event()  # bound to the loop that first waits on it
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(_quiet_connection_teardown)
    # On shutdown hypercorn closes idle connections; a TLS close then waits for the peer's
    # close_notify, which grpc-core does not send, for asyncio's default 30 s. This process
    # serves only the sandbox: a short wait is what Ctrl-C should cost.
    asyncio.constants.SSL_SHUTDOWN_TIMEOUT = 2.0  # type: ignore[attr-defined]

    def stop() -> None:
        loop.call_soon_threadsafe(stopping.set)

    async def run() -> None:
        if ready is not None:
            loop.call_soon(ready, base_url)
        await hypercorn.asyncio.serve(app, config, shutdown_trigger=stopping.wait)

    previous = _install_stop_handlers(stop)
    try:
        loop.run_until_complete(run())
    except KeyboardInterrupt:
        pass
    except _TEARDOWN_ERRORS:
        if not stopping.is_set():
            raise  # not a connection closing at shutdown
    finally:
        _restore_handlers(previous)
        loop.close()
