"""A throwaway PKI for the TLS and proxy tests: a CA and server certificates it signed, made
with `cryptography`; and an account set up through a sandbox served with them."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.conftest import LiveSandbox

# A name that is not loopback (so proxies apply to it) and that nothing resolves (RFC 6761):
# only a forward proxy told where it is (ForwardProxy's `hosts`) can reach a server by it.
SANDBOX_NAME = "sandbox.sk.test"


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA certificate, PEM: what a corporate proxy's users are given
    certificate: Path  # the server's, signed by the CA, for 127.0.0.1, localhost, SANDBOX_NAME
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


def make_pki(directory: Path) -> Pki:
    """A throwaway CA, and certificates it signed, written to `directory`."""
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
        [
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.DNSName("localhost"),
            x509.DNSName(SANDBOX_NAME),
        ],
    )
    named, named_key = _server_certificate(ca_key, ca, [x509.DNSName("localhost")])
    return Pki(
        ca=_write_certificate(ca, directory / "ca.pem"),
        certificate=_write_certificate(loopback, directory / "server.pem"),
        key=_write_key(loopback_key, directory / "server.key"),
        localhost_only=_write_certificate(named, directory / "localhost.pem"),
        localhost_key=_write_key(named_key, directory / "localhost.key"),
    )


def active_account(sandbox: LiveSandbox, ca: Path, identifier: str) -> None:
    """An ACTIVE gmail account of `identifier`, set up through the sandbox's TLS server with
    the CA trusted."""
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
        body = {"connector": "gmail", "identifier": identifier}
        client.post("/api/v1/connected_accounts", json=body, headers=headers)
        link = client.post("/api/v1/connected_accounts/magic_link", json=body, headers=headers)
    # The hosted page is served by the same TLS server; the "browser" trusts the CA too.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSL_CERT_FILE", str(ca))
        approve_as_browser(link.json()["link"])
