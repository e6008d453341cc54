"""RS256 JSON Web Tokens for the sandbox's MCP session tokens, on `cryptography`.

The document says the token is "Signed JWT (RS256) ... signed with the calling environment's
active JWT signing key". The sandbox makes its environment key once (2048-bit RSA, kept in
its state as PKCS #8 PEM, so a restart keeps verifying old tokens) and signs with
RSASSA-PKCS1-v1_5 over SHA-256 (RFC 7518 §3.3). cryptography is imported when a key is made,
read or used: only minting a session token needs it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import FAILED_PRECONDITION, ApiError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

_PUBLIC_EXPONENT = 65537
_MISSING = (
    "MCP session tokens are signed with the cryptography package, which is not installed: "
    "pip install 'scalekit-cli[grpc]'"
)


def _rsa() -> Any:
    """cryptography's RSA module, or the sandbox's one-line refusal when it is missing."""
    try:
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError as error:
        raise ApiError(FAILED_PRECONDITION, _MISSING) from error
    return rsa


@dataclass(frozen=True)
class RsaKey:
    private: RSAPrivateKey
    kid: str

    @property
    def n(self) -> int:
        return self.private.public_key().public_numbers().n

    @property
    def e(self) -> int:
        return self.private.public_key().public_numbers().e

    def to_json(self) -> str:
        from cryptography.hazmat.primitives import serialization

        pem = self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return json.dumps({"pem": pem.decode("ascii"), "kid": self.kid})

    @classmethod
    def from_json(cls, text: str) -> RsaKey:
        data = json.loads(text)
        rsa = _rsa()
        if "pem" in data:
            from cryptography.hazmat.primitives import serialization

            private = serialization.load_pem_private_key(data["pem"].encode("ascii"), None)
            if not isinstance(private, rsa.RSAPrivateKey):
                raise ValueError("the stored signing key is not an RSA key")
            return cls(private, data["kid"])
        # A state written before the key was kept as PEM holds its primes: rebuild from them.
        p, q, e = int(data["p"]), int(data["q"]), int(data["e"])
        d = pow(e, -1, (p - 1) * (q - 1))
        numbers = rsa.RSAPrivateNumbers(
            p=p,
            q=q,
            d=d,
            dmp1=rsa.rsa_crt_dmp1(d, p),
            dmq1=rsa.rsa_crt_dmq1(d, q),
            iqmp=rsa.rsa_crt_iqmp(p, q),
            public_numbers=rsa.RSAPublicNumbers(e, p * q),
        )
        return cls(numbers.private_key(), data["kid"])

    def public_jwk(self) -> dict[str, str]:
        return {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": _b64(_to_bytes(self.n)),
            "e": _b64(_to_bytes(self.e)),
        }


def generate_key(bits: int = 2048) -> RsaKey:
    private = _rsa().generate_private_key(public_exponent=_PUBLIC_EXPONENT, key_size=bits)
    modulus = private.public_key().public_numbers().n
    kid = "snk_sbx_" + hashlib.sha256(str(modulus).encode()).hexdigest()[:16]
    return RsaKey(private, kid)


def _to_bytes(number: int) -> bytes:
    return number.to_bytes((number.bit_length() + 7) // 8, "big")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def sign_rs256(key: RsaKey, claims: dict[str, Any]) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    header = {"alg": "RS256", "typ": "JWT", "kid": key.kid}
    signing_input = (
        f"{_b64(json.dumps(header, separators=(',', ':')).encode())}."
        f"{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
    )
    signature = key.private.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"
