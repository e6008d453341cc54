"""Driving the installed `sk mcp serve` with the MCP SDK's own client, over stdio and over
streamable HTTP, against a live sandbox — recording every byte the server writes."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, types
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.cli.conftest import SK, SandboxDriver, assert_no_leak, driver, sk_env, sk_process
from tests.conftest import CANARY_CLIENT_SECRET, LiveSandbox
from tests.security.fingerprints import issued_machine_tokens

__all__ = ["driver", "sk_env", "sk_process"]

ElicitationCallback = Callable[[Any, types.ElicitRequestParams], Awaitable[types.ElicitResult]]


class _RecordingStream(httpx2.AsyncByteStream):
    def __init__(self, inner: Any, chunks: list[bytes]) -> None:
        self._inner = inner
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._chunks.append(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class _RecordingTransport(httpx2.AsyncBaseTransport):
    """Every byte of every HTTP answer the server gives, headers included."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._inner = httpx2.AsyncHTTPTransport()
        self._chunks = chunks

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        head = f"HTTP {response.status_code}\n" + "".join(
            f"{name}: {value}\n" for name, value in response.headers.items()
        )
        self._chunks.append(head.encode())
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            stream=_RecordingStream(response.stream, self._chunks),
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass
class McpHarness:
    """Starts `sk mcp serve` and connects the SDK's Client to it; `written()` is everything
    the server wrote to stdout, stderr and the HTTP stream so far."""

    env: dict[str, str]
    tmp_path: Path
    live: LiveSandbox
    chunks: list[bytes] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def _log(self, name: str) -> Path:
        path = self.tmp_path / f"{name}-{len(self.logs)}.log"
        path.touch()
        self.logs.append(path)
        return path

    @asynccontextmanager
    async def client(
        self,
        transport: str,
        *args: str,
        elicitation: ElicitationCallback | None = None,
        mode: str = "legacy",
        message_handler: Any = None,
        root: tuple[str, ...] = (),
    ) -> AsyncIterator[Client]:
        serve = [*root, "mcp", "serve", "--user", "user_123", "--interval", "0.1", "-v", *args]
        if transport == "stdio":
            stdout_log, stderr_log = self._log("stdout"), self._log("stderr")
            # The client reads the server's stdout through tee, which keeps a copy.
            params = StdioServerParameters(
                command="/bin/sh",
                args=["-c", '"$0" "$@" | tee -a "$SK_TEST_STDOUT"', str(SK), *serve],
                env={**self.env, "SK_TEST_STDOUT": str(stdout_log)},
                cwd=str(self.tmp_path),
            )
            with stderr_log.open("w") as errlog:
                connection = stdio_client(params, errlog=errlog)
                async with Client(
                    connection,
                    mode=mode,
                    elicitation_callback=elicitation,
                    message_handler=message_handler,
                ) as client:
                    yield client
            return
        url = self.start_http(*serve)
        http = httpx2.AsyncClient(
            transport=_RecordingTransport(self.chunks), timeout=httpx2.Timeout(30, read=300)
        )
        async with (
            http,
            Client(
                streamable_http_client(url, http_client=http),
                mode=mode,
                elicitation_callback=elicitation,
                message_handler=message_handler,
            ) as client,
        ):
            yield client

    def start_http(self, *serve: str) -> str:
        stdout_log, stderr_log = self._log("stdout"), self._log("stderr")
        process = subprocess.Popen(
            [str(SK), *serve, "--transport", "http", "--port", "0"],
            env={**os.environ, **self.env},
            cwd=self.tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=stdout_log.open("wb"),
            stderr=stderr_log.open("wb"),
        )
        self.processes.append(process)
        deadline = time.monotonic() + 30
        while True:
            lines = stdout_log.read_text().splitlines()
            if lines:
                return lines[0]
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"sk mcp serve did not start: {stderr_log.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()

    def written(self) -> str:
        """Every byte the servers wrote: stdout, stderr, and the HTTP answers."""
        text = b"".join(self.chunks).decode("utf-8", "replace")
        for path in self.logs:
            text += "\n" + path.read_text(errors="replace")
        return text

    def stderr(self) -> str:
        return "\n".join(p.read_text() for p in self.logs if p.name.startswith("stderr"))

    def secrets(self, driver: SandboxDriver) -> list[str]:
        """The canaries: the client secret, every machine token the sandbox saw, and every
        connected account's tokens."""
        found = {CANARY_CLIENT_SECRET, driver._token, *issued_machine_tokens(self.live)}
        return sorted(found)

    def assert_no_secret(self, driver: SandboxDriver, *connectors: str) -> None:
        """No canary in anything written; `connectors`' accounts add their tokens."""
        tokens = []
        for connector in connectors:
            oauth = driver.tokens(connector, "user_123")
            tokens += [oauth["access_token"], oauth["refresh_token"]]
        assert_no_leak(self.written(), *self.secrets(driver), *tokens)


@pytest.fixture
def harness(sk_env: dict[str, str], tmp_path: Path, sandbox: LiveSandbox):
    made = McpHarness(sk_env, tmp_path, sandbox)
    yield made
    made.stop()
