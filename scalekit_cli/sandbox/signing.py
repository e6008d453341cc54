"""RS256 JSON Web Tokens for the sandbox's MCP session tokens, with the standard library only.

The document says the token is "Signed JWT (RS256) ... signed with the calling environment's
active JWT signing key". The sandbox makes its environment key once (2048-bit RSA, kept in
its state, so a restart keeps verifying old tokens) and signs with RSASSA-PKCS1-v1_5 over
SHA-256 (RFC 7518 §3.3). No cryptography dependency: a plain `pip install` stays light.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

# DER prefix of a SHA-256 DigestInfo (RFC 8017 §9.2, note 1).
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
_SMALL_PRIMES = [p for p in range(3, 2000, 2) if all(p % d for d in range(3, int(p**0.5) + 1, 2))]
# Eight Miller-Rabin rounds on random odd candidates: a composite slips through with
# probability far below 4^-8 (Damgård et al.); ample for a sandbox's signing key.


@dataclass(frozen=True)
class RsaKey:
    p: int
    q: int
    e: int
    kid: str

    @property
    def n(self) -> int:
        return self.p * self.q

    @property
    def d(self) -> int:
        return pow(self.e, -1, (self.p - 1) * (self.q - 1))

    def to_json(self) -> str:
        return json.dumps({"p": str(self.p), "q": str(self.q), "e": self.e, "kid": self.kid})

    @classmethod
    def from_json(cls, text: str) -> RsaKey:
        data = json.loads(text)
        return cls(int(data["p"]), int(data["q"]), int(data["e"]), data["kid"])

    def private_power(self, value: int) -> int:
        """value^d mod n by the Chinese remainder theorem (four times faster than plain)."""
        d = self.d
        m1 = pow(value, d % (self.p - 1), self.p)
        m2 = pow(value, d % (self.q - 1), self.q)
        h = (pow(self.q, -1, self.p) * (m1 - m2)) % self.p
        return m2 + h * self.q

    def public_jwk(self) -> dict[str, str]:
        return {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": _b64(_to_bytes(self.n)),
            "e": _b64(_to_bytes(self.e)),
        }


def _probably_prime(candidate: int, rounds: int = 8) -> bool:
    if any(candidate % p == 0 for p in _SMALL_PRIMES):
        return candidate in _SMALL_PRIMES
    d, r = candidate - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for _ in range(rounds):
        a = secrets.randbelow(candidate - 3) + 2
        x = pow(a, d, candidate)
        if x in (1, candidate - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, candidate)
            if x == candidate - 1:
                break
        else:
            return False
    return True


def _prime(bits: int) -> int:
    while True:
        candidate = secrets.randbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if _probably_prime(candidate):
            return candidate


def generate_key(bits: int = 2048) -> RsaKey:
    e = 65537
    while True:
        p, q = _prime(bits // 2), _prime(bits // 2)
        phi = (p - 1) * (q - 1)
        if p != q and phi % e:
            kid = "snk_sbx_" + hashlib.sha256(str(p * q).encode()).hexdigest()[:16]
            return RsaKey(p=p, q=q, e=e, kid=kid)


def _to_bytes(number: int) -> bytes:
    return number.to_bytes((number.bit_length() + 7) // 8, "big")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def sign_rs256(key: RsaKey, claims: dict[str, Any]) -> str:
    header = {"alg": "RS256", "typ": "JWT", "kid": key.kid}
    signing_input = (
        f"{_b64(json.dumps(header, separators=(',', ':')).encode())}."
        f"{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
    )
    size = (key.n.bit_length() + 7) // 8
    digest = _SHA256_DIGEST_INFO + hashlib.sha256(signing_input.encode("ascii")).digest()
    encoded = b"\x00\x01" + b"\xff" * (size - len(digest) - 3) + b"\x00" + digest
    signature = key.private_power(int.from_bytes(encoded, "big")).to_bytes(size, "big")
    return f"{signing_input}.{_b64(signature)}"


def verify_rs256(key: RsaKey, token: str) -> dict[str, Any] | None:
    """The claims of `token` if `key` signed it (for the sandbox's own checks and tests)."""
    try:
        signing_input, _, signature_text = token.rpartition(".")
        signature = base64.urlsafe_b64decode(signature_text + "=" * (-len(signature_text) % 4))
        size = (key.n.bit_length() + 7) // 8
        recovered = pow(int.from_bytes(signature, "big"), key.e, key.n).to_bytes(size, "big")
        digest = _SHA256_DIGEST_INFO + hashlib.sha256(signing_input.encode("ascii")).digest()
        expected = b"\x00\x01" + b"\xff" * (size - len(digest) - 3) + b"\x00" + digest
        if not secrets.compare_digest(recovered, expected):
            return None
        payload = signing_input.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, IndexError):
        return None
