"""What the reliability and security tests share: servers on loopback (the sandbox, wrapped or
over TLS), a CliRunner bound to one sandbox for many runs, and a set-up client that survives
the revocation of machine tokens.

The fixtures of `tests/cli/conftest.py` give each test a fresh sandbox; the matrix and the
property tests run hundreds of cases, so they share one sandbox per module and isolate cases
by identifier and by resetting faults and the request log instead.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from tests.cli.conftest import SkResult
from tests.conftest import CANARY_CLIENT_ID, CANARY_CLIENT_SECRET, LiveSandbox, serve_app

# Environment variables a developer's shell may hold that would change what `sk` does.
FOREIGN_VARIABLE_PREFIXES = ("SCALEKIT_", "SK_", "SSL_CERT_", "REQUESTS_CA_BUNDLE")
FOREIGN_VARIABLES = ("NO_COLOR", "GITHUB_ACTIONS", "GITHUB_ENV", "GITHUB_OUTPUT")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sandbox(
    wrap: Callable[[Any], Any] | None = None,
    *,
    ssl_certfile: Path | None = None,
    ssl_keyfile: Path | None = None,
    date_header: bool = True,
    **overrides: Any,
) -> LiveSandbox:
    """A sandbox with the canary credentials; `wrap` may put ASGI middleware around it."""
    from scalekit_cli.sandbox import SandboxSettings, create_app

    overrides.setdefault("client_id", CANARY_CLIENT_ID)
    overrides.setdefault("client_secret", CANARY_CLIENT_SECRET)
    settings = SandboxSettings(**overrides)
    app = create_app(settings)
    url, stop = serve_app(
        wrap(app) if wrap else app,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        date_header=date_header,
    )
    return LiveSandbox(url=url, settings=settings, app=app, _stop=stop)


@contextmanager
def clean_process_environment() -> Iterator[None]:
    """Remove settings a developer's shell may hold for the duration (CliRunner runs in-process,
    so `os.environ` is what `sk` sees)."""
    saved = {
        name: value
        for name, value in os.environ.items()
        if name.startswith(FOREIGN_VARIABLE_PREFIXES) or name in FOREIGN_VARIABLES
    }
    for name in saved:
        del os.environ[name]
    try:
        yield
    finally:
        os.environ.update(saved)


@functools.cache
def small_trust_store() -> Path:
    """A CA bundle of one throwaway certificate. These tests speak plain http to loopback, so
    what the CLI trusts does not matter to them; loading certifi's ~150 certificates for every
    in-process run (~60 ms each, hundreds of runs) does, on a 2-core CI machine."""
    import datetime
    import tempfile

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sk tests: trusts nothing real")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = Path(tempfile.mkdtemp(prefix="sk-trust-")) / "ca.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


class SkRunner:
    """`sk ARGS…` in-process through CliRunner, against one sandbox, from one home directory.
    `quick_tls` points SSL_CERT_FILE at `small_trust_store()` (off for the TLS tests)."""

    def __init__(self, sandbox: LiveSandbox, home: Path, *, quick_tls: bool = True) -> None:
        self.sandbox = sandbox
        self.home = home
        self.cache_dir = home / "cache"
        self.quick_tls = quick_tls

    def env(self, **overrides: str) -> dict[str, str]:
        trust = {"SSL_CERT_FILE": str(small_trust_store())} if self.quick_tls else {}
        return {
            **trust,
            "SCALEKIT_ENV_URL": self.sandbox.url,
            "SCALEKIT_CLIENT_ID": CANARY_CLIENT_ID,
            "SCALEKIT_CLIENT_SECRET": CANARY_CLIENT_SECRET,
            "SK_GMAIL_API_URL": self.sandbox.url,
            "SK_CACHE_DIR": str(self.cache_dir),
            "SK_DATA_DIR": str(self.home / "data"),
            "SK_CONFIG_DIR": str(self.home / "config"),
            "SK_RETRY_BACKOFF": "0.01",
            "SK_HTTP_TIMEOUT": "10",
            **overrides,
        }

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, input: str | None = None
    ) -> SkResult:
        """Like the `sk` fixture, but the click command is built once: Typer rebuilds it on
        every `CliRunner.invoke`, which would dominate hundreds of short runs. Unlike the
        console script, an exception is raised here rather than turned into an "internal
        error" line."""
        runner = CliRunner()
        with runner.isolation(input=input, env=self.env(**(env or {}))) as streams:
            try:
                code = _sk_command().main(args=list(args), prog_name="sk")
            except SystemExit as exit_:
                code = exit_.code
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
            stdout, stderr = streams[0].getvalue(), streams[1].getvalue()
        exit_code = code if isinstance(code, int) else 0 if code is None else 1
        return SkResult(exit_code, stdout.decode("utf-8"), stderr.decode("utf-8"))


@functools.cache
def _sk_command() -> Any:
    import typer

    from scalekit_cli.cli.app import app

    return typer.main.get_command(app)


class Setup:
    """Sets accounts up over the sandbox's own API, renewing its machine token when a test
    revoked every machine token."""

    def __init__(self, sandbox: LiveSandbox) -> None:
        self.sandbox = sandbox
        self._token = sandbox.machine_token()

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for _ in range(2):
            with httpx.Client(base_url=self.sandbox.url, timeout=10, verify=False) as client:
                answer = client.request(
                    method, path, headers={"authorization": f"Bearer {self._token}"}, **kwargs
                )
            if answer.status_code != 401:
                break
            self._token = self.sandbox.machine_token()
        return answer

    def create(self, connector: str, identifier: str) -> dict:
        answer = self.api(
            "POST",
            "/api/v1/connected_accounts",
            json={"connector": connector, "identifier": identifier, "connected_account": {}},
        )
        assert answer.status_code in (201, 409), answer.text
        return answer.json()

    def connect(self, connector: str, identifier: str, **form: Any) -> dict:
        """An ACTIVE account: created, and Allow pressed on its hosted page."""
        from scalekit_cli.sandbox.hosted_form import approve_as_browser

        self.create(connector, identifier)
        link = self.api(
            "POST",
            "/api/v1/connected_accounts/magic_link",
            json={"connector": connector, "identifier": identifier},
        )
        link.raise_for_status()
        approve_as_browser(link.json()["link"], **form)
        return self.account(connector, identifier)

    def account(self, connector: str, identifier: str) -> dict:
        answer = self.api(
            "GET",
            "/api/v1/connected_accounts/auth",
            params={"connector": connector, "identifier": identifier},
        )
        answer.raise_for_status()
        return answer.json()["connected_account"]


def count_requests(log: list[dict], method: str, path: str) -> int:
    """Requests in the sandbox's log matching a method and a path (a trailing `*`: a prefix)."""

    def matches(entry: dict) -> bool:
        if entry["method"] != method:
            return False
        if path.endswith("*"):
            return entry["path"].startswith(path[:-1])
        return entry["path"] == path

    return sum(1 for entry in log if matches(entry))
