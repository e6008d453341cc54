"""`sk sandbox serve --tls`: a local CA and a localhost certificate, made once and kept.

The CA signs one server certificate (localhost, 127.0.0.1, ::1) and its private key is then
thrown away: nothing on the machine can mint more certificates that the CA's trusters accept.
When the server certificate nears its end, a new CA and certificate replace both.
Needs `cryptography` (the `[grpc]` extra); imported only by `serve --tls`.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

CA_FILE = "sandbox-tls-ca.pem"  # the CA certificate: what NODE_EXTRA_CA_CERTS adds
BUNDLE_FILE = "sandbox-tls-bundle.pem"  # the CA plus the public roots, for the replacing variables
CERT_FILE = "sandbox-tls-cert.pem"  # the server certificate
KEY_FILE = "sandbox-tls-key.pem"  # its private key

VALIDITY = datetime.timedelta(days=397)
RENEW_BEFORE = datetime.timedelta(days=7)
HOSTS = ("localhost",)
ADDRESSES = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class SandboxTls:
    ca_path: Path
    bundle_path: Path
    cert_path: Path
    key_path: Path

    def trust_variables(self) -> dict[str, str]:
        """What each client reads to trust the sandbox: grpc-core, requests, OpenSSL (httpx,
        `sk`) and Node. The replacing variables get the bundle, so the same shell still
        reaches public HTTPS hosts."""
        bundle = str(self.bundle_path)
        return {
            "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": bundle,
            "REQUESTS_CA_BUNDLE": bundle,
            "SSL_CERT_FILE": bundle,
            "NODE_EXTRA_CA_CERTS": str(self.ca_path),
        }


def _write_private(path: Path, data: bytes) -> None:
    """Write atomically with mode 0600 (a reader never sees half a file)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def _current(tls: SandboxTls, now: datetime.datetime) -> bool:
    from cryptography import x509

    paths = (tls.ca_path, tls.bundle_path, tls.cert_path, tls.key_path)
    if not all(path.is_file() for path in paths):
        return False
    try:
        certificate = x509.load_pem_x509_certificate(tls.cert_path.read_bytes())
    except ValueError:
        return False
    return certificate.not_valid_after_utc - RENEW_BEFORE > now


def _public_roots() -> bytes:
    import certifi  # httpx's own dependency

    return Path(certifi.where()).read_bytes()


def _issue(now: datetime.datetime) -> tuple[bytes, bytes, bytes]:
    """(CA certificate, server certificate, server key), all PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sk sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"sk sandbox local CA {secrets.token_hex(4)}"),
        ]
    )
    start = now - datetime.timedelta(minutes=5)
    ca_certificate = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + VALIDITY)
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
    server_key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(host) for host in HOSTS]
    names += [x509.IPAddress(ipaddress.ip_address(address)) for address in ADDRESSES]
    server_certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = server_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca_certificate.public_bytes(pem), server_certificate.public_bytes(pem), key_pem


def load_or_create_tls(directory: Path) -> SandboxTls:
    """The sandbox's CA and server certificate in `directory`, made on first use (0600)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    tls = SandboxTls(
        ca_path=directory / CA_FILE,
        bundle_path=directory / BUNDLE_FILE,
        cert_path=directory / CERT_FILE,
        key_path=directory / KEY_FILE,
    )
    now = datetime.datetime.now(datetime.UTC)
    if _current(tls, now):
        return tls
    ca_pem, cert_pem, key_pem = _issue(now)
    # The key before the certificate: a server that reads a new certificate finds its key.
    _write_private(tls.key_path, key_pem)
    _write_private(tls.cert_path, cert_pem)
    _write_private(tls.ca_path, ca_pem)
    _write_private(tls.bundle_path, ca_pem + b"\n" + _public_roots())
    return tls
