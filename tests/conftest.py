"""Shared fixtures: a real sandbox on a loopback port, and a raw HTTP client for it.

Every test of the project talks to the sandbox over real HTTP; nothing of the project's own
HTTP layer is mocked.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

# One TLS context for every helper client: building one per httpx.Client (loading the CA
# bundle) costs ~50 ms, which dominated short tests. Plain-HTTP calls never use it anyway.
TLS = ssl.create_default_context()

# Canary secrets: every test that captures output searches it for these.
CANARY_CLIENT_SECRET = "CANARYcs-7Hq2Zr9Lw4Xp-kV3nQ8sW1mT6"
CANARY_CLIENT_ID = "skc_canary_client"


@pytest.fixture(autouse=True)
def _fresh_secret_registry() -> Iterator[None]:
    """Each test starts, as each `sk` process does, knowing no secret: in-process runs would
    otherwise mask pieces of one test's secrets in another's output."""
    from scalekit_cli.scalekit.secrets import GLOBAL_SECRETS

    GLOBAL_SECRETS.clear()
    yield


@pytest.fixture(autouse=True)
def _no_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """sk honours HTTP(S)_PROXY: a developer's or a CI machine's proxy would otherwise carry
    the tests' loopback traffic. The proxy tests set their own."""
    import os

    for name in list(os.environ):
        if name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name)


@dataclass
class LiveSandbox:
    """A sandbox served by uvicorn on 127.0.0.1, running in a thread of the test process."""

    url: str
    settings: object
    app: object
    _stop: Callable[[], None] = field(repr=False)

    @property
    def engine(self):
        return self.app.state.sandbox

    def admin(self, method: str, path: str, **kwargs) -> httpx.Response:
        """Call the admin surface (`/_sandbox/...`)."""
        with httpx.Client(base_url=self.url, timeout=10, verify=TLS) as client:
            response = client.request(method, path, **kwargs)
        response.raise_for_status()
        return response

    def requests(self) -> list[dict]:
        """The request log of the sandbox, oldest first."""
        return self.admin("GET", "/_sandbox/requests").json()["requests"]

    def clear_requests(self) -> None:
        self.admin("DELETE", "/_sandbox/requests")

    def fault(self, **spec) -> str:
        return self.admin("POST", "/_sandbox/faults", json=spec).json()["id"]

    def machine_token(self) -> str:
        with httpx.Client(base_url=self.url, timeout=10, verify=TLS) as client:
            answer = client.post(
                "/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.settings.client_id,
                    "client_secret": self.settings.client_secret,
                },
            )
        answer.raise_for_status()
        return answer.json()["access_token"]

    def stop(self) -> None:
        self._stop()


def serve_app(
    app: Any,
    *,
    ssl_certfile: Path | None = None,
    ssl_keyfile: Path | None = None,
    date_header: bool = True,
) -> tuple[str, Callable[[], None]]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in a thread; (base URL, stop).
    `date_header=False` leaves the `Date` header to the app."""
    import uvicorn

    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it every keep-alive response stalls ~40 ms (Nagle against delayed ACKs).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="off",
        timeout_keep_alive=30,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        date_header=date_header,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)

    scheme = "https" if ssl_certfile else "http"
    return f"{scheme}://127.0.0.1:{port}", stop


def start_live_sandbox(settings) -> LiveSandbox:
    from scalekit_cli.sandbox import create_app

    app = create_app(settings)
    url, stop = serve_app(app)
    return LiveSandbox(url=url, settings=settings, app=app, _stop=stop)


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., LiveSandbox]]:
    """Start sandboxes with custom settings; all are stopped at the end of the test."""
    from scalekit_cli.sandbox import SandboxSettings

    started: list[LiveSandbox] = []

    def make(**overrides) -> LiveSandbox:
        overrides.setdefault("client_id", CANARY_CLIENT_ID)
        overrides.setdefault("client_secret", CANARY_CLIENT_SECRET)
        live = start_live_sandbox(SandboxSettings(**overrides))
        started.append(live)
        return live

    yield make
    for live in started:
        live.stop()


@pytest.fixture
def sandbox(sandbox_factory) -> LiveSandbox:
    """A fresh in-memory sandbox with the default connections, on a loopback port."""
    return sandbox_factory()


@pytest.fixture
def sandbox_file_state(tmp_path: Path) -> Path:
    return tmp_path / "sandbox.sqlite3"
