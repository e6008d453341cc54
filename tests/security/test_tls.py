"""TLS against a real loopback server: verification is always on, a CA bundle named by
`SSL_CERT_FILE` or `REQUESTS_CA_BUNDLE` is honoured (a corporate proxy's CA), the host name is
checked, and plain http is refused anywhere but loopback.

A throwaway CA and server certificate are made with `cryptography`; the sandbox is served over
TLS by uvicorn on 127.0.0.1."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import SkProcess, assert_no_leak, assert_one_error_line
from tests.conftest import CANARY_CLIENT_SECRET, LiveSandbox
from tests.reliability.harness import SkRunner, clean_process_environment, start_sandbox
from tests.scalekit.pki import SANDBOX_NAME, Pki, active_account, make_pki

USER = "tls-user"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_sandbox(pki: Pki) -> Iterator[LiveSandbox]:
    sandbox = start_sandbox(ssl_certfile=pki.certificate, ssl_keyfile=pki.key)
    assert sandbox.url.startswith("https://127.0.0.1:")
    active_account(sandbox, pki.ca, USER)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def tls_runner(tls_sandbox: LiveSandbox, tmp_path: Path) -> Iterator[SkRunner]:
    with clean_process_environment(), pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        yield SkRunner(tls_sandbox, tmp_path, quick_tls=False)


def test_an_unknown_ca_is_refused(tls_runner: SkRunner) -> None:
    result = tls_runner("token", "gmail", "--user", USER, "--json")
    assert result.exit_code == 1
    line = assert_one_error_line(result)
    assert line.startswith("sk: cannot reach 127.0.0.1: TLS certificate verification failed")
    assert "SSL_CERT_FILE" in line  # the way out, for a proxy that re-signs TLS


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
def test_a_ca_bundle_named_by_the_environment_is_trusted(
    variable: str, tls_runner: SkRunner, pki: Pki
) -> None:
    result = tls_runner("token", "gmail", "--user", USER, "--debug", env={variable: str(pki.ca)})
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip().startswith("ya29")


def test_the_console_script_honours_ssl_cert_file(
    tls_runner: SkRunner, pki: Pki, tmp_path: Path
) -> None:
    sk = SkProcess(tls_runner.env(), tmp_path)
    assert sk("status", "gmail", "--user", USER).exit_code == 1
    trusted = sk("status", "gmail", "--user", USER, env={"SSL_CERT_FILE": str(pki.ca)})
    assert trusted.exit_code == 0, trusted.stderr


def test_the_host_name_is_verified(pki: Pki, tmp_path: Path) -> None:
    """A certificate from the trusted CA, but for another name, is still refused."""
    sandbox = start_sandbox(ssl_certfile=pki.localhost_only, ssl_keyfile=pki.localhost_key)
    try:
        with clean_process_environment(), pytest.MonkeyPatch.context() as patch:
            patch.chdir(tmp_path)
            runner = SkRunner(sandbox, tmp_path, quick_tls=False)
            result = runner("status", "gmail", "--user", USER, env={"SSL_CERT_FILE": str(pki.ca)})
            by_name = runner(
                "status",
                "gmail",
                "--user",
                USER,
                env={
                    "SSL_CERT_FILE": str(pki.ca),
                    "SCALEKIT_ENV_URL": sandbox.url.replace("127.0.0.1", "localhost"),
                },
            )
    finally:
        sandbox.stop()
    assert result.exit_code == 1
    assert "TLS certificate verification failed" in assert_one_error_line(result)
    assert "127.0.0.1" in result.stderr
    # The same server under the name its certificate holds: accepted (no account: exit 3).
    assert by_name.exit_code == 3, by_name.stderr


@pytest.mark.parametrize(
    ("variable", "problem"),
    [
        ("SSL_CERT_FILE", "missing"),
        ("SSL_CERT_FILE", "not-pem"),
        ("SSL_CERT_FILE", "no-ca-in-it"),
        ("SSL_CERT_FILE", "a-directory"),
        ("REQUESTS_CA_BUNDLE", "missing"),
        ("SSL_CERT_DIR", "missing"),
        ("SSL_CERT_DIR", "a-file"),
    ],
)
def test_an_unusable_ca_variable_is_a_configuration_error_naming_it(
    variable: str, problem: str, tls_runner: SkRunner, tmp_path: Path, pki: Pki
) -> None:
    """Exit 5 naming the variable, before any connection (SSL_CERT_DIR=/nonexistent was exit 1
    once the server's certificate could not be checked)."""
    value = {
        "missing": "/nonexistent",
        "not-pem": tmp_path / "bundle.pem",
        "no-ca-in-it": pki.key,  # PEM, but no certificate at all
        "a-directory": tmp_path,
        "a-file": pki.ca,
    }[problem]
    (tmp_path / "bundle.pem").write_text("this is not PEM\n")
    result = tls_runner("token", "gmail", "--user", USER, "--json", env={variable: str(value)})
    assert result.exit_code == 5, result.stderr
    line = assert_one_error_line(result)
    assert f"{variable}={value} cannot be used to verify servers" in line


class HandshakeCounter:
    """A TLS server on loopback that counts the handshakes clients start."""

    def __init__(self, pki: Pki) -> None:
        self.handshakes = 0
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(pki.certificate, pki.key)
        self._server = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._server.accept()
            except OSError:
                return
            self.handshakes += 1
            with contextlib.suppress(OSError), self._context.wrap_socket(sock, server_side=True):
                pass

    def stop(self) -> None:
        self._server.close()


def test_a_certificate_that_fails_verification_is_not_retried(
    tls_runner: SkRunner, pki: Pki
) -> None:
    """The same certificate would be refused again: the server sees one handshake."""
    server = HandshakeCounter(pki)
    try:
        result = tls_runner("status", "gmail", "--user", USER, env={"SCALEKIT_ENV_URL": server.url})
    finally:
        server.stop()
    assert result.exit_code == 1
    assert "TLS certificate verification failed" in assert_one_error_line(result)
    assert server.handshakes == 1


class PlainHttpCounter:
    """A plain-HTTP server on loopback that counts the connections clients open; it answers
    whatever it is sent (a TLS ClientHello, say) with an HTTP 400."""

    def __init__(self) -> None:
        self.connections = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            with contextlib.suppress(OSError), sock:
                sock.recv(4096)
                sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    def stop(self) -> None:
        self._server.close()


def test_a_plain_http_server_on_an_https_url_is_not_retried(tls_runner: SkRunner) -> None:
    """TLS met plain HTTP (WRONG_VERSION_NUMBER): it would again, so one connection only."""
    server = PlainHttpCounter()
    try:
        result = tls_runner(
            "--env-url", server.url, "-v", "token", "gmail", "--user", USER, "--json"
        )
    finally:
        server.stop()
    assert result.exit_code == 1
    line = assert_one_error_line(result)
    assert line.startswith("sk: cannot reach 127.0.0.1: TLS handshake failed"), line
    assert "http://" in line
    assert server.connections == 1, result.stderr
    assert_no_leak(result, CANARY_CLIENT_SECRET)


def test_plain_http_is_refused_off_loopback(tls_runner: SkRunner) -> None:
    for url in ("http://acme.scalekit.dev", "http://10.0.0.8:8080", "http://[2001:db8::1]"):
        result = tls_runner(
            "token", "gmail", "--user", USER, "--json", env={"SCALEKIT_ENV_URL": url}
        )
        assert result.exit_code == 5, url
        assert "refusing plain http://" in assert_one_error_line(result)
    # Loopback may be plain http (a local sandbox); it is refused here only for want of TLS.
    loopback = tls_runner(
        "token",
        "gmail",
        "--user",
        USER,
        env={"SCALEKIT_ENV_URL": tls_runner.sandbox.url.replace("https://", "http://")},
    )
    assert loopback.exit_code == 1
    assert "cannot reach 127.0.0.1" in assert_one_error_line(loopback)


def test_doctor_reports_tls_verification(tls_runner: SkRunner, pki: Pki) -> None:
    untrusted = tls_runner("doctor", "--json")
    checks = {check["name"]: check for check in json.loads(untrusted.stdout)["checks"]}
    assert untrusted.exit_code == 1
    assert checks["environment"]["status"] == "fail"
    assert "TLS certificate verification failed" in checks["environment"]["detail"]
    assert "SSL_CERT_FILE" in checks["environment"]["detail"]

    trusted = tls_runner("doctor", "--json", env={"SSL_CERT_FILE": str(pki.ca)})
    checks = {check["name"]: check for check in json.loads(trusted.stdout)["checks"]}
    assert checks["environment"]["status"] == "pass"
    assert checks["credentials"]["status"] == "pass"


def _by_name(runner: SkRunner) -> dict[str, str]:
    """The sandbox under SANDBOX_NAME, which only the forward proxy can resolve."""
    url = runner.sandbox.url.replace("127.0.0.1", SANDBOX_NAME)
    return {"SCALEKIT_ENV_URL": url, "SK_GMAIL_API_URL": url}


def test_https_is_tunnelled_through_the_proxy_and_verified_end_to_end(
    tls_runner: SkRunner, pki: Pki
) -> None:
    """HTTPS_PROXY: the proxy sees only `CONNECT host:port`; TLS (and its verification) runs
    through the tunnel between sk and the server, so the proxy could read nothing."""
    from tests.scalekit.forward_proxy import ForwardProxy

    proxy = ForwardProxy(hosts={SANDBOX_NAME: "127.0.0.1"}).start()
    try:
        named = _by_name(tls_runner)
        host_port = named["SCALEKIT_ENV_URL"].removeprefix("https://")
        env = {**named, "HTTPS_PROXY": proxy.url}
        untrusted = tls_runner("token", "gmail", "--user", USER, "--json", env=env)
        assert untrusted.exit_code == 1
        assert "TLS certificate verification failed" in assert_one_error_line(untrusted)
        assert len(proxy.seen) == 1  # one tunnel, one handshake: no retry
        trusted = tls_runner(
            "token", "gmail", "--user", USER, "--debug", env={**env, "SSL_CERT_FILE": str(pki.ca)}
        )
        assert trusted.exit_code == 0, trusted.stderr
        assert trusted.stdout.strip().startswith("ya29")
        assert {(seen.method, seen.target) for seen in proxy.seen} == {("CONNECT", host_port)}
        assert CANARY_CLIENT_SECRET.encode() not in proxy.received
    finally:
        proxy.stop()


def test_an_authenticating_proxy_gets_its_credentials_on_connect(
    tls_runner: SkRunner, pki: Pki
) -> None:
    from tests.scalekit.forward_proxy import ForwardProxy

    password = "CANARYtunnel-pw-2Kd9"
    expected = "Basic " + base64.b64encode(f"agent:{password}".encode()).decode()
    proxy = ForwardProxy(required_authorization=expected, hosts={SANDBOX_NAME: "127.0.0.1"})
    proxy.start()
    try:
        port = proxy.url.rsplit(":", 1)[1]
        trust = {**_by_name(tls_runner), "SSL_CERT_FILE": str(pki.ca)}
        refused = tls_runner(
            "token", "gmail", "--user", USER, "--json", env={**trust, "HTTPS_PROXY": proxy.url}
        )
        assert refused.exit_code == 1
        line = assert_one_error_line(refused)
        assert "the proxy refused the tunnel: 407" in line
        assert len(proxy.seen) == 1  # a refusal that would come again is not retried
        with_credentials = f"http://agent:{password}@127.0.0.1:{port}"
        result = tls_runner(
            "-v",
            "token",
            "gmail",
            "--user",
            USER,
            "--debug",
            env={**trust, "HTTPS_PROXY": with_credentials},
        )
        assert result.exit_code == 0, result.stderr
        assert all(seen.authorization == expected for seen in proxy.seen[1:])
        assert_no_leak(result, password, expected.split()[1])
    finally:
        proxy.stop()


@pytest.mark.parametrize("flags", [[], ["-v", "--debug"]], ids=["plain", "verbose-debug"])
def test_a_407_quoting_the_proxy_credentials_shows_none_of_them(
    tls_runner: SkRunner, pki: Pki, flags: list[str]
) -> None:
    """A proxy refusing the tunnel with a reason phrase that quotes the user name, password
    and Proxy-Authorization it was sent: the error line names the 407, and none of them."""
    from tests.scalekit.forward_proxy import ForwardProxy

    password = "CANARYwrong-pw-8Rv3"
    given = "Basic " + base64.b64encode(f"agent:{password}".encode()).decode()
    proxy = ForwardProxy(
        required_authorization="Basic c29tZW9uZTplbHNl",
        quote_in_refusal=True,
        hosts={SANDBOX_NAME: "127.0.0.1"},
    ).start()
    try:
        port = proxy.url.rsplit(":", 1)[1]
        env = {
            **_by_name(tls_runner),
            "SSL_CERT_FILE": str(pki.ca),
            "HTTPS_PROXY": f"http://agent:{password}@127.0.0.1:{port}",
        }
        result = tls_runner(*flags, "token", "gmail", "--user", USER, env=env)
    finally:
        proxy.stop()
    assert result.exit_code == 1
    assert "the proxy refused the tunnel: 407" in assert_one_error_line(result)
    assert [seen.authorization for seen in proxy.seen] == [given]  # it did get them
    assert_no_leak(result, password, given.split()[1])


def test_a_proxy_that_is_down_is_named_without_its_credentials(tls_runner: SkRunner) -> None:
    """The connection refused is the proxy's: the line names it (host:port and the variable),
    never the credentials its URL holds."""
    password = "CANARYdown-pw-5Tq1"
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]  # closed again below: nothing listens there
    env = {
        "SCALEKIT_ENV_URL": "https://example.invalid",
        "HTTPS_PROXY": f"http://agent:{password}@127.0.0.1:{port}",
    }
    for flags in ([], ["-v", "--debug"]):
        result = tls_runner(*flags, "token", "gmail", "--user", USER, env=env)
        assert result.exit_code == 1
        line = assert_one_error_line(result)
        assert line == (
            f"sk: cannot reach example.invalid: the proxy 127.0.0.1:{port} (HTTPS_PROXY): "
            "connection refused"
        ), line
        assert_no_leak(result, password, CANARY_CLIENT_SECRET)
