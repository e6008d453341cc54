"""Fixtures for driving `sk` — through Typer's CliRunner and as the installed console script —
against a live sandbox on a loopback port."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from scalekit_cli.cli.app import app
from tests.conftest import CANARY_CLIENT_ID, CANARY_CLIENT_SECRET, LiveSandbox

SK = Path(sys.executable).with_name("sk")


@dataclass
class SkResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def streams(self) -> str:
        return self.stdout + "\n" + self.stderr


def assert_no_leak(result: SkResult | str, *secrets: str) -> None:
    """No secret, nor any 8-character piece of one, in any captured stream."""
    text = result if isinstance(result, str) else result.streams
    for secret in secrets:
        assert secret, "an empty canary proves nothing"
        assert secret not in text, f"secret {secret[:4]}… leaked"
        for start in range(0, max(1, len(secret) - 7)):
            piece = secret[start : start + 8]
            assert piece not in text, f"a piece of secret {secret[:4]}… leaked: {piece!r}"


def assert_one_error_line(result: SkResult) -> str:
    """The failure ends with one `sk: …` line on stderr and never a traceback."""
    assert "Traceback" not in result.streams
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "nothing on stderr"
    assert lines[-1].startswith("sk: "), lines
    return lines[-1]


def read_terminal(
    leader: int,
    react: Callable[[bytes], None] | None = None,
    *,
    finished: Callable[[], bool] | None = None,
    timeout: float = 30.0,
) -> bytes:
    """Everything a program writes to the pseudo-terminal `leader` until it closes it (or
    `finished()` says so while nothing more is waiting); `react(screen)` runs after each read,
    to type at prompts."""
    screen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the program closed the terminal
                break
            if not chunk:
                break
            screen += chunk
        if react is not None:
            react(screen)
        if finished is not None and not ready and finished():
            break
    return screen


class SandboxDriver:
    """Sets the sandbox up through its own HTTP API, as an independent client would."""

    def __init__(self, live: LiveSandbox) -> None:
        self.live = live
        self._token = live.machine_token()

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        with httpx.Client(base_url=self.live.url, timeout=10) as client:
            return client.request(
                method, path, headers={"authorization": f"Bearer {self._token}"}, **kwargs
            )

    def link(self, connector: str, identifier: str, **extra) -> str:
        self.api(
            "POST",
            "/api/v1/connected_accounts",
            json={"connector": connector, "identifier": identifier, "connected_account": {}},
        )
        answer = self.api(
            "POST",
            "/api/v1/connected_accounts/magic_link",
            json={"connector": connector, "identifier": identifier, **extra},
        )
        answer.raise_for_status()
        return answer.json()["link"]

    def connect(self, connector: str, identifier: str, **form) -> dict:
        """Create the account and press Allow on its hosted page; returns `/auth`'s account."""
        from scalekit_cli.sandbox.hosted_form import approve_as_browser

        approve_as_browser(self.link(connector, identifier), **form)
        return self.account(connector, identifier, credentials=True)

    def account(self, connector: str, identifier: str, *, credentials: bool = False) -> dict:
        path = "auth" if credentials else "details"
        answer = self.api(
            "GET",
            f"/api/v1/connected_accounts/{path}",
            params={"connector": connector, "identifier": identifier},
        )
        answer.raise_for_status()
        return answer.json()["connected_account"]

    def tokens(self, connector: str, identifier: str) -> dict:
        account = self.account(connector, identifier, credentials=True)
        return account["authorization_details"]["oauth_token"]

    def api_gmail(self, access_token: str, path: str, **kwargs) -> dict:
        with httpx.Client(base_url=self.live.url, timeout=10) as client:
            answer = client.get(
                f"/gmail/v1/users/me{path}",
                headers={"authorization": f"Bearer {access_token}"},
                **kwargs,
            )
        answer.raise_for_status()
        return answer.json()

    def polls(self) -> int:
        return sum(r["path"].endswith("/details") for r in self.live.requests())

    def wait_for_polls(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.polls() < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {count} status polls reached the sandbox")
            time.sleep(0.05)

    def approve_later(
        self, connector: str, identifier: str, *, after_polls: int = 2, press: str = "Allow"
    ) -> threading.Thread:
        """In the background, once `after_polls` status polls went by, press `press` on a
        hosted page of the account, as its user would in a browser."""
        from scalekit_cli.sandbox.hosted_form import approve_as_browser

        def approve() -> None:
            self.wait_for_polls(after_polls)
            answer = self.api(
                "POST",
                "/api/v1/connected_accounts/magic_link",
                json={"connector": connector, "identifier": identifier},
            )
            approve_as_browser(answer.json()["link"], press=press)

        thread = threading.Thread(target=approve, daemon=True)
        thread.start()
        return thread

    def force(self, connector: str, identifier: str, status: str) -> None:
        self.live.admin(
            "POST",
            "/_sandbox/accounts/status",
            json={"connector": connector, "identifier": identifier, "status": status},
        )


@pytest.fixture
def driver(sandbox: LiveSandbox) -> SandboxDriver:
    return SandboxDriver(sandbox)


@pytest.fixture
def sk_env(sandbox: LiveSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of one `sk` user pointed at the live sandbox, isolated in tmp_path."""
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    for name in list(os.environ):
        if name.startswith(("SCALEKIT_", "SK_")) or name in ("NO_COLOR", "GITHUB_ACTIONS"):
            monkeypatch.delenv(name, raising=False)
    env = {
        "SCALEKIT_ENV_URL": sandbox.url,
        "SCALEKIT_CLIENT_ID": CANARY_CLIENT_ID,
        "SCALEKIT_CLIENT_SECRET": CANARY_CLIENT_SECRET,
        "SK_GMAIL_API_URL": sandbox.url,
        "SK_CACHE_DIR": str(tmp_path / "cache"),
        "SK_DATA_DIR": str(tmp_path / "data"),
        "SK_CONFIG_DIR": str(tmp_path / "config"),
        "SK_RETRY_BACKOFF": "0.01",
        "SK_HTTP_TIMEOUT": "10",
    }
    return env


@pytest.fixture
def sk(sk_env: dict[str, str]):
    """Run `sk ARGS…` in-process through Typer's CliRunner."""

    def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> SkResult:
        merged = {**sk_env, **(env or {})}
        runner = CliRunner()
        result = runner.invoke(app, list(args), env=merged, input=input)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return SkResult(result.exit_code, result.stdout, result.stderr)

    return invoke


class SkProcess:
    """The installed `sk` console script, run in a subprocess with the test's environment."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        assert SK.exists(), f"the console script is not installed at {SK}"
        self.env = {**os.environ, **env}
        self.cwd = cwd

    def __call__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = 60,
        input: str | None = None,
    ) -> SkResult:
        done = subprocess.run(
            [str(SK), *args],
            env={**self.env, **(env or {})},
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
        )
        return SkResult(done.returncode, done.stdout, done.stderr)

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(SK), *args],
            env={**self.env, **(env or {})},
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def sk_process(sk_env: dict[str, str], tmp_path: Path) -> SkProcess:
    return SkProcess(sk_env, tmp_path)
