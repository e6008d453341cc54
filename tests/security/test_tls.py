"""TLS against a real loopback server: verification is always on, a CA bundle named by
`SSL_CERT_FILE` or `REQUESTS_CA_BUNDLE` is honoured (a corporate proxy's CA), the host name is
checked, and plain http is refused anywhere but loopback.

A throwaway CA and server certificate are made with `cryptography`; the sandbox is served over
TLS by uvicorn on 127.0.0.1."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.cli.conftest import SkProcess, assert_one_error_line
from tests.conftest import LiveSandbox
from tests.reliability.harness import SkRunner, clean_process_environment, start_sandbox

USER = "tls-user"


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA certificate, PEM: what a corporate proxy's users are given
    certificate: Path  # the server's, signed by the CA, for 127.0.0.1 and localhost
    key: Path
    localhost_only: Path  # a certificate for "localhost" alone, signed by the CA
    localhost_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _write_certificate(certificate: x509.Certificate, path: Path) -> Path:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def _server_certificate(
    ca_key: ec.EllipticCurvePrivateKey,
    ca: x509.Certificate,
    names: list[x509.GeneralName],
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name("sk test server"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return certificate, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("sk throwaway test CA"))
        .issuer_name(_name("sk throwaway test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    loopback, loopback_key = _server_certificate(
        ca_key,
        ca,
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
    )
    named, named_key = _server_certificate(ca_key, ca, [x509.DNSName("localhost")])
    return Pki(
        ca=_write_certificate(ca, directory / "ca.pem"),
        certificate=_write_certificate(loopback, directory / "server.pem"),
        key=_write_key(loopback_key, directory / "server.key"),
        localhost_only=_write_certificate(named, directory / "localhost.pem"),
        localhost_key=_write_key(named_key, directory / "localhost.key"),
    )


def _prepare(sandbox: LiveSandbox, ca: Path) -> None:
    """An active account, set up through the TLS server with the CA trusted."""
    from scalekit_cli.sandbox.hosted_form import approve_as_browser

    context = ssl.create_default_context(cafile=str(ca))
    settings = sandbox.settings
    with httpx.Client(base_url=sandbox.url, verify=context, timeout=10) as client:
        token = client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": settings.client_id,
                "client_secret": settings.client_secret,
            },
        ).json()["access_token"]
        headers = {"authorization": f"Bearer {token}"}
        body = {"connector": "gmail", "identifier": USER}
        client.post("/api/v1/connected_accounts", json=body, headers=headers)
        link = client.post("/api/v1/connected_accounts/magic_link", json=body, headers=headers)
    # The hosted page is served by the same TLS server; the "browser" trusts the CA too.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSL_CERT_FILE", str(ca))
        approve_as_browser(link.json()["link"])


@pytest.fixture(scope="module")
def tls_sandbox(pki: Pki) -> Iterator[LiveSandbox]:
    sandbox = start_sandbox(ssl_certfile=pki.certificate, ssl_keyfile=pki.key)
    assert sandbox.url.startswith("https://127.0.0.1:")
    _prepare(sandbox, pki.ca)
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


@pytest.mark.parametrize("problem", ["missing", "not-a-certificate"])
def test_an_unusable_ca_bundle_is_a_configuration_error(
    problem: str, tls_runner: SkRunner, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle.pem"
    if problem == "not-a-certificate":
        bundle.write_text("this is not PEM\n")
    result = tls_runner(
        "token", "gmail", "--user", USER, "--json", env={"SSL_CERT_FILE": str(bundle)}
    )
    assert result.exit_code == 5
    line = assert_one_error_line(result)
    assert f"SSL_CERT_FILE={bundle} cannot be used to verify servers" in line


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


def test_https_is_tunnelled_through_the_proxy_and_verified_end_to_end(
    tls_runner: SkRunner, pki: Pki
) -> None:
    """HTTPS_PROXY: the proxy sees only `CONNECT host:port`; TLS (and its verification) runs
    through the tunnel between sk and the server, so the proxy could read nothing."""
    from tests.scalekit.forward_proxy import ForwardProxy

    proxy = ForwardProxy().start()
    try:
        host_port = tls_runner.sandbox.url.removeprefix("https://")
        env = {"HTTPS_PROXY": proxy.url, "NO_PROXY": ""}
        untrusted = tls_runner("token", "gmail", "--user", USER, "--json", env=env)
        assert untrusted.exit_code == 1
        assert "TLS certificate verification failed" in assert_one_error_line(untrusted)
        trusted = tls_runner(
            "token", "gmail", "--user", USER, "--debug", env={**env, "SSL_CERT_FILE": str(pki.ca)}
        )
        assert trusted.exit_code == 0, trusted.stderr
        assert trusted.stdout.strip().startswith("ya29")
        assert proxy.seen
        assert {(seen.method, seen.target) for seen in proxy.seen} == {("CONNECT", host_port)}
    finally:
        proxy.stop()


def test_an_authenticating_proxy_gets_its_credentials_on_connect(
    tls_runner: SkRunner, pki: Pki
) -> None:
    import base64

    from tests.cli.conftest import assert_no_leak
    from tests.scalekit.forward_proxy import ForwardProxy

    password = "CANARYtunnel-pw-2Kd9"
    expected = "Basic " + base64.b64encode(f"agent:{password}".encode()).decode()
    proxy = ForwardProxy(required_authorization=expected).start()
    try:
        port = proxy.url.rsplit(":", 1)[1]
        trust = {"SSL_CERT_FILE": str(pki.ca), "NO_PROXY": ""}
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
