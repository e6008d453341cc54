"""The sandbox's MCP session-token signing (cryptography): tokens verify with an independent
verifier (PyJWT) from the public JWK the key gives, and a stored key reads back, including a
state written when the key was kept as its primes."""

from __future__ import annotations

import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from scalekit_cli.sandbox.signing import RsaKey, generate_key, sign_rs256

CLAIMS = {"sub": "mia", "iat": 1700000000, "exp": 1700003600, "ca_ids": ["ca_1"]}


@pytest.fixture(scope="module")
def key() -> RsaKey:
    return generate_key()


def _verify_with_jwk(token: str, jwk: dict[str, str]) -> dict:
    public = jwt.PyJWK(jwk)
    return jwt.decode(token, public.key, algorithms=["RS256"], options={"verify_exp": False})


def test_a_token_verifies_with_the_public_jwk(key: RsaKey) -> None:
    jwk = key.public_jwk()
    assert jwk["kty"] == "RSA" and jwk["alg"] == "RS256" and jwk["kid"] == key.kid
    assert key.n.bit_length() == 2048 and key.e == 65537
    token = sign_rs256(key, CLAIMS)
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "typ": "JWT", "kid": key.kid}
    assert _verify_with_jwk(token, jwk) == CLAIMS


def test_a_tampered_token_or_another_key_fails(key: RsaKey) -> None:
    token = sign_rs256(key, CLAIMS)
    header, _payload, signature = token.split(".")
    forged = jwt.utils.base64url_encode(json.dumps({**CLAIMS, "sub": "eve"}).encode()).decode()
    with pytest.raises(jwt.InvalidSignatureError):
        _verify_with_jwk(f"{header}.{forged}.{signature}", key.public_jwk())
    with pytest.raises(jwt.InvalidSignatureError):
        _verify_with_jwk(token, generate_key().public_jwk())


def test_a_stored_key_reads_back_and_keeps_verifying(key: RsaKey) -> None:
    stored = json.loads(key.to_json())
    assert stored["pem"].startswith("-----BEGIN PRIVATE KEY-----")
    again = RsaKey.from_json(key.to_json())
    assert again.kid == key.kid and again.public_jwk() == key.public_jwk()
    assert _verify_with_jwk(sign_rs256(again, CLAIMS), key.public_jwk()) == CLAIMS


def test_a_key_stored_as_primes_by_an_older_sandbox_still_signs() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private.private_numbers()
    legacy = json.dumps(
        {"p": str(numbers.p), "q": str(numbers.q), "e": 65537, "kid": "snk_sbx_legacy"}
    )
    key = RsaKey.from_json(legacy)
    assert key.n == private.public_key().public_numbers().n
    token = sign_rs256(key, CLAIMS)
    assert _verify_with_jwk(token, key.public_jwk()) == CLAIMS
