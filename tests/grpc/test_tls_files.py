"""`serve --tls`'s CA and certificate: made once, kept 0600, renewed only when unusable."""

from __future__ import annotations

import datetime
import ssl
import stat
from pathlib import Path

from cryptography import x509

from scalekit_cli.sandbox.tls import load_or_create_tls


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.glob("sandbox-tls-*"))}


def test_made_once_and_kept_private(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    first = load_or_create_tls(directory)
    made = _files(directory)
    assert len(made) == 4
    assert load_or_create_tls(directory) == first
    assert _files(directory) == made  # the second start reuses them
    for path in directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700

    ca = x509.load_pem_x509_certificate(first.ca_path.read_bytes())
    server = x509.load_pem_x509_certificate(first.cert_path.read_bytes())
    server.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert {str(a) for a in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    lifetime = server.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(days=300) < lifetime < datetime.timedelta(days=398)
    # The bundle trusts the sandbox and still the public roots (the same shell reaches both).
    bundle = ssl.create_default_context(cafile=str(first.bundle_path))
    subjects = [dict(item[0] for item in cert["subject"]) for cert in bundle.get_ca_certs()]
    assert len(subjects) > 10
    assert any(s.get("commonName", "").startswith("sk sandbox local CA") for s in subjects)
    variables = first.trust_variables()
    assert variables["NODE_EXTRA_CA_CERTS"] == str(first.ca_path)
    assert variables["SSL_CERT_FILE"] == variables["REQUESTS_CA_BUNDLE"] == str(first.bundle_path)


def test_an_unreadable_certificate_is_replaced(tmp_path: Path) -> None:
    first = load_or_create_tls(tmp_path)
    before = _files(tmp_path)
    first.cert_path.write_bytes(b"not a certificate")
    load_or_create_tls(tmp_path)
    after = _files(tmp_path)
    assert after[first.cert_path.name] != b"not a certificate"
    assert after[first.ca_path.name] != before[first.ca_path.name]  # a new CA signed it
    server = x509.load_pem_x509_certificate(after[first.cert_path.name])
    server.verify_directly_issued_by(x509.load_pem_x509_certificate(after[first.ca_path.name]))
