"""`EmbeddedSandbox`: the sandbox inside the CLI's own process (the `--sandbox` default).

Requests go through the ASGI app in memory (an httpx transport, for sk's own session and for
any httpx client); no socket is opened unless `start_server()` is called (for the hosted page
a browser must reach).
One asyncio loop in a daemon thread runs the app for both paths, so they share one engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from .. import httpx_lean as httpx
from .settings import SandboxSettings, default_state_path

if TYPE_CHECKING:
    import uvicorn
    from starlette.applications import Starlette

    from .engine import SandboxEngine

T = TypeVar("T")

EMBEDDED_BASE_URL = "http://sandbox.invalid"
CREDENTIALS_FILE = "sandbox-credentials.json"


@dataclass(frozen=True)
class SandboxCredentials:
    client_id: str
    client_secret: str


def load_or_create_credentials(directory: Path) -> tuple[str, str]:
    """The embedded sandbox's client id and secret, generated once, kept in a 0600 file."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Our own data directory is tightened even if something else created it looser; a
    # caller-chosen directory (such as /tmp) is left alone.
    own_directory = os.name == "posix" and directory == default_state_path().parent
    if own_directory and directory.stat().st_mode & 0o777 != 0o700:
        directory.chmod(0o700)
    path = directory / CREDENTIALS_FILE
    for _attempt in range(50):
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
            return values["client_id"], values["client_secret"]
        except FileNotFoundError:
            pass
        except (ValueError, KeyError):
            # Another process may be between creating and filling it; link() below is
            # atomic, so a half-written file is only ever the temporary one.
            time.sleep(0.02)
            continue
        values = {
            "client_id": "skc_" + secrets.token_hex(12),
            "client_secret": secrets.token_urlsafe(32),
        }
        temporary = directory / f".{CREDENTIALS_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(values, handle)
        try:
            os.link(temporary, path)  # fails if another process won the race: read theirs
        except FileExistsError:
            continue
        finally:
            temporary.unlink()
        return values["client_id"], values["client_secret"]
    raise RuntimeError(f"could not read or create {path}")


class _LoopThread:
    """An asyncio loop running for ever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="sk-sandbox", daemon=True
        )
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()


Exchanged = tuple[int, list[tuple[bytes, bytes]], bytes]


class _Bridge:
    """One request through the ASGI app on the sandbox's loop, as the app answers it (the body
    still content-encoded)."""

    def __init__(self, sandbox: EmbeddedSandbox, client: tuple[str, int]) -> None:
        self._sandbox = sandbox
        self._client = client

    def exchange(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, bytes]] | list[tuple[bytes, bytes]],
        body: bytes,
        timeout: float | None,
    ) -> Exchanged:
        """Raises DroppedConnection (a fault closed the connection) or FutureTimeout."""
        asgi = httpx.ASGITransport(app=self._sandbox.app, client=self._client)
        inner = httpx.Request(method, url, headers=headers, content=body)

        async def call() -> Exchanged:
            response = await asgi.handle_async_request(inner)
            content = b"".join([part async for part in response.aiter_raw()])
            return response.status_code, response.headers.raw, content

        return self._sandbox._loop_thread().run(call(), timeout)


class BridgeTransport(httpx.BaseTransport):
    """The embedded sandbox as an httpx transport: for sk's own session (runtime.py) and for
    any httpx client (a test's, an agent's)."""

    def __init__(self, sandbox: EmbeddedSandbox, client: tuple[str, int]) -> None:
        self._bridge = _Bridge(sandbox, client)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        from .faults import DroppedConnection

        timeouts = request.extensions.get("timeout", {})
        try:
            status, headers, content = self._bridge.exchange(
                request.method,
                str(request.url),
                request.headers.raw,
                request.read(),
                timeouts.get("read"),
            )
        except DroppedConnection as error:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            ) from error
        except FutureTimeout as error:
            raise httpx.ReadTimeout(
                "the sandbox did not answer in time", request=request
            ) from error
        return httpx.Response(status, headers=headers, content=content, request=request)


class EmbeddedSandbox:
    def __init__(
        self, settings: SandboxSettings, client_address: tuple[str, int] = ("127.0.0.1", 50000)
    ) -> None:
        self.settings = settings
        self.base_url = EMBEDDED_BASE_URL
        self.client_address = client_address
        self._app: Starlette | None = None
        self._loop: _LoopThread | None = None
        self._server: uvicorn.Server | None = None
        self._server_url: str | None = None
        self._serving: Future[None] | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        state_path: Path | None = None,
        *,
        client_address: tuple[str, int] = ("127.0.0.1", 50000),
    ) -> EmbeddedSandbox:
        """The sandbox over the persisted state (default: the user data directory), with
        client credentials generated on first use and kept beside the state file."""
        path = Path(state_path) if state_path is not None else default_state_path()
        client_id, client_secret = load_or_create_credentials(path.parent)
        settings = SandboxSettings(
            client_id=client_id, client_secret=client_secret, state_path=path
        )
        return cls(settings, client_address=client_address)

    @classmethod
    def credentials(cls, state_path: Path | None = None) -> SandboxCredentials:
        """The persisted client credentials (created on first use), e.g. for `sk sandbox serve`
        to reuse, so a served and an embedded sandbox over one state file accept one client."""
        path = Path(state_path) if state_path is not None else default_state_path()
        return SandboxCredentials(*load_or_create_credentials(path.parent))

    @property
    def app(self) -> Starlette:
        # Built on first use: Starlette's import is the expensive part of a cold start.
        with self._lock:
            if self._app is None:
                from .app import create_app

                self._app = create_app(self.settings)
                # In-process calls (`sk sandbox force`) name the embedded base URL's host.
                self._app.state.served_hosts.add(urlsplit(EMBEDDED_BASE_URL).hostname)
            return self._app

    @property
    def engine(self) -> SandboxEngine:
        return self.app.state.sandbox

    def _loop_thread(self) -> _LoopThread:
        with self._lock:
            if self._loop is None:
                self._loop = _LoopThread()
            return self._loop

    def transport(self) -> httpx.BaseTransport:
        """The sandbox for an httpx client: `httpx.Client(transport=sandbox.transport())`, as
        sk's own session uses it."""
        return BridgeTransport(self, self.client_address)

    def start_server(self) -> str:
        """A real loopback server for the same app and engine; magic links then point to it."""
        if self._server_url is not None:
            return self._server_url
        from .server import bind_socket, make_server, url_for

        app = self.app
        sock = bind_socket("127.0.0.1", 0)
        server = make_server(app)
        loop = self._loop_thread()
        serving = asyncio.run_coroutine_threadsafe(server.serve(sockets=[sock]), loop.loop)
        deadline = time.monotonic() + 10
        while not server.started:
            if serving.done():
                serving.result()  # raises what stopped it
            if time.monotonic() > deadline:
                server.should_exit = True
                raise RuntimeError("the embedded sandbox server did not start")
            time.sleep(0.005)
        self._server = server
        self._serving = serving
        self._server_url = url_for("127.0.0.1", sock.getsockname()[1])
        self.engine.public_url = self._server_url
        return self._server_url

    def close(self) -> None:
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):  # closing must not fail the CLI
                self._serving.result(timeout=5)
            self._server = None
            self._serving = None
            self._server_url = None
        if self._loop is not None:
            self._loop.stop()
            self._loop = None
        if self._app is not None:
            self._app.state.sandbox.close()
            self._app = None

    def __enter__(self) -> EmbeddedSandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
