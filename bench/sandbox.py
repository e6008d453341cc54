"""The sandbox every benchmark runs against, in a process of its own.

It must not share the benchmark's interpreter (and GIL) with anything measured, so it is
started as `sk sandbox serve --port 0 --memory …` (or `python -m bench.sandbox_proc` when it
needs more connections than the default ones), and both announce themselves with the same
`export NAME=value` lines on stdout. Everything else is done over HTTP, as any client would:
the AgentKit API with a machine token, the hosted page's form, and the admin surface
(`/_sandbox/…`) for latency faults and the request log.
"""

from __future__ import annotations

import queue
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

SK = Path(sys.executable).with_name("sk")
REPO_ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID = "skc_bench"
CLIENT_SECRET = "bench-secret-not-a-real-one"
EXPORTED = ("SCALEKIT_ENV_URL", "SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET", "SK_GMAIL_API_URL")
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
    while not all(name in exports for name in EXPORTED):
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise RuntimeError(f"the sandbox announced nothing within {timeout:g} s") from None
        if line is None:
            raise RuntimeError("the sandbox exited before it announced its URL")
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            exports[name] = value
    return exports


@dataclass
class Sandbox:
    """A running sandbox process and an HTTP client for its API and admin surface."""

    url: str
    env: dict[str, str]
    process: subprocess.Popen[str]
    log_path: Path
    _http: httpx.Client = field(repr=False)
    _machine_token: str | None = field(default=None, repr=False)

    @classmethod
    def start(cls, argv: list[str]) -> Sandbox:
        log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept for the sandbox's lifetime
            "w", prefix="sk-bench-sandbox-", suffix=".log", delete=False
        )
        process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,  # where `python -m bench.sandbox_proc` is found
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert process.stdout is not None
            exports = read_exports(process.stdout, START_TIMEOUT)
        except BaseException:
            process.kill()
            process.wait()
            log.close()
            sys.stderr.write(Path(log.name).read_text(errors="replace"))
            raise
        url = exports["SCALEKIT_ENV_URL"]
        # Keep-alive, so that setting up and inspecting the sandbox costs it little.
        client = httpx.Client(base_url=url, timeout=30)
        return cls(url, exports, process, Path(log.name), client)

    @classmethod
    def serve_cli(cls) -> Sandbox:
        """The sandbox as users start it: `sk sandbox serve` with the default connections."""
        return cls.start(
            [
                str(SK),
                "sandbox",
                "serve",
                "--port",
                "0",
                "--memory",
                "--client-id",
                CLIENT_ID,
                "--client-secret",
                CLIENT_SECRET,
            ]
        )

    @classmethod
    def serve_many_connections(cls, count: int) -> Sandbox:
        """A sandbox with `count` extra connections (app0000 …), for users with many accounts."""
        return cls.start(
            [
                sys.executable,
                "-m",
                "bench.sandbox_proc",
                "--connections",
                str(count),
                "--client-id",
                CLIENT_ID,
                "--client-secret",
                CLIENT_SECRET,
            ]
        )

    def stop(self) -> None:
        self._http.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

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

    def add_latency(self, path: str, latency_ms: int) -> None:
        """Delay every answer under `path` (a trailing `*` makes it a prefix)."""
        fault = {"path": path, "kind": "latency", "latency_ms": latency_ms}
        self.admin("POST", "/faults", json=fault)

    def clear_faults(self) -> None:
        self.admin("DELETE", "/faults")

    def force_status(self, connector: str, identifier: str, status: str) -> None:
        self.admin(
            "POST",
            "/accounts/status",
            json={"connector": connector, "identifier": identifier, "status": status},
        )

    # -- the AgentKit API -------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
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
        headers = {"authorization": f"Bearer {self._machine_token}"}
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
        """Create the account and press Allow on its hosted page, as its user would."""
        from scalekit_cli.sandbox.hosted_form import approve_as_browser

        self.create_account(connector, identifier)
        answer = self.api(
            "POST",
            "/api/v1/connected_accounts/magic_link",
            json={"connector": connector, "identifier": identifier},
        )
        answer.raise_for_status()
        approve_as_browser(answer.json()["link"])
        status = self.account(connector, identifier)["status"]
        if status != "ACTIVE":
            raise RuntimeError(f"{connector} of {identifier} is {status} after Allow")

    def round_trip_seconds(self, connector: str, identifier: str, samples: int = 20) -> float:
        """The median round trip of one status read over a kept-alive connection."""
        self.account(connector, identifier)  # the connection is open from here on
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            self.account(connector, identifier)
            times.append(time.perf_counter() - started)
        times.sort()
        return times[len(times) // 2]
