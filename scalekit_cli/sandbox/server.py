"""`serve`: the sandbox on a real socket under uvicorn, for `sk sandbox serve`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

from .settings import SandboxSettings

if TYPE_CHECKING:
    import uvicorn


def url_for(host: str, port: int) -> str:
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"http://{host}:{port}"


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
) -> None:
    """Serve until Ctrl-C or SIGTERM, then return normally. `ready(base_url)` runs once the
    socket listens (port 0 picks a free port, reported through `ready`)."""
    from .app import create_app

    app = create_app(settings)
    app.state.served_hosts.add(host.strip("[]").lower())  # what Host headers may name
    sock = bind_socket(host, port)
    base_url = url_for(host, sock.getsockname()[1])
    server = make_server(app)

    def stop(signum: int, frame: FrameType | None) -> None:
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

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, stop)
    try:
        asyncio.run(run())
    except KeyboardInterrupt:  # a signal that arrived before our handler was installed
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sock.close()
        app.state.sandbox.close()
