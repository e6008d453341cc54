"""`sk sandbox serve` as its users start it (the installed console script), and the clients
that compare what each face says: the REST face over httpx, and `sk` itself."""

from __future__ import annotations

import json
import os
import queue
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

SK = Path(sys.executable).with_name("sk")
SDK_CLIENT_ID = "skc_grpc_canary"
SDK_CLIENT_SECRET = "grpc-canary-secret-Qm4Tz8Vb2Wn6"
TRUST_VARIABLES = ("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


def _read_exports(process: subprocess.Popen[str], last: str, timeout: float = 30) -> dict:
    """The `export NAME=value` lines the server prints once it listens (up to `last`)."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:  # stdout is read on a thread: a pipe's readline has no timeout
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    exports: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while last not in exports:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            line = ""
        if not line:
            process.kill()
            _, error = process.communicate()
            raise AssertionError(f"sk sandbox serve did not start: {exports} {error}")
        if line.startswith("export "):
            name, _, value = line[len("export ") :].strip().partition("=")
            exports[name] = shlex.split(value)[0]
    return exports


def clean_environment() -> dict[str, str]:
    """This process's environment without any `sk` or Scalekit setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("SCALEKIT_", "SK_"))}


@dataclass
class ServedSandbox:
    process: subprocess.Popen[str]
    exports: dict[str, str]
    home: Path  # SK_DATA_DIR / SK_CONFIG_DIR / SK_CACHE_DIR and the working directory of `sk`
    _token: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return self.exports["SCALEKIT_ENV_URL"]

    def verify(self) -> ssl.SSLContext | bool:
        bundle = self.exports.get("SSL_CERT_FILE")
        return ssl.create_default_context(cafile=bundle) if bundle else True

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, verify=self.verify())

    def machine_token(self) -> str:
        if self._token is None:
            with self.http() as client:
                answer = client.post(
                    "/oauth/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": self.exports["SCALEKIT_CLIENT_ID"],
                        "client_secret": self.exports["SCALEKIT_CLIENT_SECRET"],
                    },
                )
            answer.raise_for_status()
            self._token = answer.json()["access_token"]
        return self._token

    def rest(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The REST face, as a plain HTTP/1.1 client with a machine token."""
        with self.http() as client:
            return client.request(
                method,
                path,
                headers={"authorization": f"Bearer {self.machine_token()}"},
                **kwargs,
            )

    def rest_account(self, connector: str, identifier: str, path: str = "auth") -> httpx.Response:
        return self.rest(
            "GET",
            f"/api/v1/connected_accounts/{path}",
            params={"connector": connector, "identifier": identifier},
        )

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        with self.http() as client:
            answer = client.request(method, path, **kwargs)
        answer.raise_for_status()
        return answer.json()

    def sk_env(self) -> dict[str, str]:
        return {
            **clean_environment(),
            **self.exports,
            "SK_DATA_DIR": str(self.home / "sk-data"),
            "SK_CONFIG_DIR": str(self.home / "sk-config"),
            "SK_CACHE_DIR": str(self.home / "sk-cache"),
            "SK_HTTP_TIMEOUT": "10",
        }

    def sk(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """The installed `sk` against this server, trusting it through the printed exports."""
        return subprocess.run(
            [str(SK), *args],
            env=self.sk_env(),
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def sk_json(self, *args: str) -> Any:
        done = self.sk(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def stop(self) -> str:
        """Stop with SIGTERM; returns what the server wrote on stderr."""
        self.process.send_signal(signal.SIGTERM)
        try:
            _, stderr = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, stderr = self.process.communicate()
        return stderr


# gRPC's core reads GRPC_DEFAULT_SSL_ROOTS_FILE_PATH once per process: a second `--tls` sandbox
# with a CA of its own would go untrusted by every later SDK channel. So each one after the first
# starts from a copy of the first one's CA and certificate (serve keeps files that are usable).
_first_tls_data: list[Path] = []


def _share_the_first_ca(data: Path) -> None:
    if not _first_tls_data:
        _first_tls_data.append(data)
        return
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    for made in _first_tls_data[0].glob("sandbox-tls-*"):
        shutil.copy2(made, data / made.name)  # copy2 keeps their 0600


def start_served(home: Path, *args: str, env: dict[str, str] | None = None) -> ServedSandbox:
    """`sk sandbox serve --port 0 --memory ARGS…` with canary client credentials."""
    home.mkdir(parents=True, exist_ok=True)
    data = home / "sandbox-data"
    if "--tls" in args:
        _share_the_first_ca(data)
    process_env = {
        **clean_environment(),
        "SK_DATA_DIR": str(data),
        "SK_CONFIG_DIR": str(home / "sandbox-config"),
        **(env or {}),
    }
    process = subprocess.Popen(
        [
            str(SK),
            "sandbox",
            "serve",
            "--port",
            "0",
            "--memory",
            "--client-id",
            SDK_CLIENT_ID,
            "--client-secret",
            SDK_CLIENT_SECRET,
            *args,
        ],
        env=process_env,
        cwd=home,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    last = "NODE_EXTRA_CA_CERTS" if "--tls" in args else "SK_GMAIL_API_URL"
    try:
        exports = _read_exports(process, last)
    except BaseException:
        process.kill()
        raise
    return ServedSandbox(process, exports, home)


@contextmanager
def served_with_trust(
    home: Path, *args: str, canaries: tuple[str, ...] = ()
) -> Iterator[ServedSandbox]:
    """`start_served(home, "--tls", ARGS…)` with this process trusting its CA, as
    `eval "$(sk sandbox serve --tls)"` does to the agent's shell; stopped on the way out, its
    log checked for a traceback and for the client secret and `canaries`."""
    live = start_served(home, "--tls", *args)
    saved = {name: os.environ.get(name) for name in TRUST_VARIABLES}
    for name in TRUST_VARIABLES:
        os.environ[name] = live.exports[name]
    try:
        yield live
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        stderr = live.stop()
        assert "Traceback" not in stderr, stderr
        for secret in (SDK_CLIENT_SECRET, *canaries):
            assert secret not in stderr


def sdk_client(served: ServedSandbox) -> Any:
    """The official Python SDK's client for this sandbox, from its printed exports."""
    from scalekit import ScalekitClient

    exports = served.exports
    return ScalekitClient(
        exports["SCALEKIT_ENV_URL"],
        exports["SCALEKIT_CLIENT_ID"],
        exports["SCALEKIT_CLIENT_SECRET"],
    )
