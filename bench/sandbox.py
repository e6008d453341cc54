"""The sandbox every benchmark runs against, in a process of its own, behind the latency relay.

It must not share the benchmark's interpreter (and GIL) with anything measured, so it is
started as `sk sandbox serve --tls --port 0 --memory …`, with its data directory (where it
keeps its local CA) in `SK_DATA_DIR`, and announces itself with `export NAME=value` lines on
stdout: its URL, credentials and the variables that make clients trust its CA. The measured
commands reach it only through the relay (bench/latency.py), at `https://localhost:<relay
port>`, the name the certificate is for. The harness itself talks to the sandbox directly, over
HTTPS with the same CA, as any client would: the AgentKit API with a machine token and the
admin surface (`/_sandbox/…`) for account states and the request log.
"""

from __future__ import annotations

import queue
import shlex
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from . import latency

SK = Path(sys.executable).with_name("sk")
REPO_ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID = "skc_bench"
CLIENT_SECRET = "bench-secret-not-a-real-one"
# What `sk sandbox serve --tls` announces that the harness needs (it prints more trust variables,
# for requests, grpc-core and Node, which are passed on as they come).
EXPORTED = (
    "SCALEKIT_ENV_URL",
    "SCALEKIT_CLIENT_ID",
    "SCALEKIT_CLIENT_SECRET",
    "SK_GMAIL_API_URL",
    "SSL_CERT_FILE",
)
# Further `export` lines that come right after these are read for a moment more.
TRAILING_EXPORTS = 0.5
START_TIMEOUT = 30.0


def read_exports(stream: IO[str], timeout: float) -> dict[str, str]:
    """The `export NAME=value` lines a starting sandbox prints, read until all are in."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    exports: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while True:
        complete = all(name in exports for name in EXPORTED)
        wait = TRAILING_EXPORTS if complete else max(0.0, deadline - time.monotonic())
        try:
            line = lines.get(timeout=wait)
        except queue.Empty:
            if complete:
                return exports
            raise RuntimeError(f"the sandbox announced nothing within {timeout:g} s") from None
        if line is None:
            if complete:
                return exports
            raise RuntimeError("the sandbox exited before it announced its URL")
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            exports[name] = value
        elif complete:
            return exports


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].rstrip("/"))


@dataclass
class Sandbox:
    """A running sandbox process, the relay in front of it, and an HTTP client for its API and
    admin surface (direct, not through the relay)."""

    url: str  # what the measured commands use: the relay's
    direct_url: str  # the sandbox's own
    round_trip_ms: float
    env: dict[str, str]  # the announced variables, the URLs pointing at the relay
    process: subprocess.Popen[str]
    log_path: Path
    _http: httpx.Client = field(repr=False)
    _machine_token: str | None = field(default=None, repr=False)

    @classmethod
    @contextmanager
    def serve(cls, data_dir: Path, round_trip_ms: float, env: dict[str, str]) -> Iterator[Sandbox]:
        """`sk sandbox serve --tls` as users start it, behind a relay of `round_trip_ms`."""
        data_dir.mkdir(parents=True, exist_ok=True)
        log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept for the sandbox's lifetime
            "w", prefix="sk-bench-sandbox-", suffix=".log", delete=False
        )
        argv = [
            str(SK),
            "sandbox",
            "serve",
            "--tls",
            "--port",
            "0",
            "--memory",
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
        ]
        process = subprocess.Popen(
            argv,
            env={**env, "SK_DATA_DIR": str(data_dir)},
            cwd=data_dir,
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert process.stdout is not None
            exports = read_exports(process.stdout, START_TIMEOUT)
        except BaseException:
            cls._end(process)
            log.close()
            sys.stderr.write(Path(log.name).read_text(errors="replace"))
            Path(log.name).unlink(missing_ok=True)
            raise
        log.close()
        direct = exports["SCALEKIT_ENV_URL"]
        # Keep-alive and the sandbox's own CA, so that setting up and inspecting the sandbox
        # costs it little.
        client = httpx.Client(base_url=direct, timeout=30, verify=ssl_context(exports))
        try:
            with latency.running(_port(direct), round_trip_ms) as relay:
                url = f"https://localhost:{relay.port}"
                client_env = {**exports, "SCALEKIT_ENV_URL": url, "SK_GMAIL_API_URL": url}
                yield cls(url, direct, round_trip_ms, client_env, process, Path(log.name), client)
        finally:
            client.close()
            cls._end(process)
            Path(log.name).unlink(missing_ok=True)

    @staticmethod
    def _end(process: subprocess.Popen[str]) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log_text(self) -> str:
        """What the sandbox wrote on stderr so far."""
        return self.log_path.read_text(errors="replace")

    # -- the admin surface ------------------------------------------------------------------

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._http.request(method, f"/_sandbox{path}", **kwargs)
        response.raise_for_status()
        return response

    def requests(self) -> list[dict[str, Any]]:
        """The sandbox's request log (admin calls excluded), oldest first."""
        return self.admin("GET", "/requests").json()["requests"]

    def clear_requests(self) -> None:
        self.admin("DELETE", "/requests")

    def force_status(self, connector: str, identifier: str, status: str) -> None:
        self.admin(
            "POST",
            "/accounts/status",
            json={"connector": connector, "identifier": identifier, "status": status},
        )

    # -- the AgentKit API -------------------------------------------------------------------

    def machine_token(self) -> str:
        if self._machine_token is None:
            answer = self._http.post(
                "/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.env["SCALEKIT_CLIENT_ID"],
                    "client_secret": self.env["SCALEKIT_CLIENT_SECRET"],
                },
            )
            answer.raise_for_status()
            self._machine_token = answer.json()["access_token"]
        return self._machine_token

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.machine_token()}"}
        return self._http.request(method, path, headers=headers, **kwargs)

    def create_account(self, connector: str, identifier: str) -> None:
        answer = self.api(
            "POST",
            "/api/v1/connected_accounts",
            json={"connector": connector, "identifier": identifier, "connected_account": {}},
        )
        if answer.status_code not in (200, 201, 409):
            answer.raise_for_status()

    def account(self, connector: str, identifier: str) -> dict[str, Any]:
        answer = self.api(
            "GET",
            "/api/v1/connected_accounts/details",
            params={"connector": connector, "identifier": identifier},
        )
        answer.raise_for_status()
        return answer.json()["connected_account"]

    def connect(self, connector: str, identifier: str) -> None:
        """Create the account and make it ACTIVE (with tokens, as after consent) through the
        admin surface: the consent page is not what is measured here."""
        self.create_account(connector, identifier)
        self.force_status(connector, identifier, "ACTIVE")
        status = self.account(connector, identifier)["status"]
        if status != "ACTIVE":
            raise RuntimeError(f"{connector} of {identifier} is {status}, not ACTIVE")


def ssl_context(exports: dict[str, str]) -> ssl.SSLContext:
    """Trust what the sandbox told its clients to trust."""
    return ssl.create_default_context(cafile=exports["SSL_CERT_FILE"])
