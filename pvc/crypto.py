"""Thin wrappers over `cryptography` primitives, so that every verification failure raises.

Salt's crypto class returned ``{}`` on a bad message and callers forgot to check; here
:func:`verify` and :func:`aead_open` raise :class:`~pvc.errors.AuthError` and nothing else
returns a "maybe". Algorithms: Ed25519 signatures, X25519 key agreement + HKDF-SHA256,
ChaCha20-Poly1305 AEAD (12-byte random nonces).
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pvc.errors import AuthError

KEY_LEN = 32
NONCE_LEN = 12

__all__ = [
    "Aead",
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "X25519PrivateKey",
    "aead_open",
    "curve_keypair",
    "derive",
    "fingerprint",
    "load_public",
    "mac",
    "nonce",
    "public_bytes",
    "random_key",
    "verify",
]


def random_key() -> bytes:
    return os.urandom(KEY_LEN)


def nonce() -> bytes:
    return os.urandom(NONCE_LEN)


def public_bytes(key: Ed25519PublicKey | X25519PublicKey) -> bytes:
    return key.public_bytes_raw()


def load_public(raw: bytes) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError):
        raise AuthError("not an Ed25519 public key") from None


def fingerprint(raw_public: bytes) -> str:
    """SHA-256 of the raw public key as colon-separated hex, like ``salt-key -f`` prints."""
    # cryptography's hash, not hashlib: hashlib loads a second OpenSSL (~4 MiB per daemon)
    h = hashes.Hash(hashes.SHA256())
    h.update(raw_public)
    digest = h.finalize().hex()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def verify(public: Ed25519PublicKey, signature: bytes, data: bytes) -> None:
    try:
        public.verify(signature, data)
    except InvalidSignature:
        raise AuthError("bad signature") from None


def curve_keypair(identity: Ed25519PrivateKey) -> tuple[bytes, bytes]:
    """The (secret, public) X25519 pair a daemon uses for ZeroMQ CURVE, derived from its
    Ed25519 identity with HKDF, so no second key file has to be kept in step."""
    seed = identity.private_bytes_raw()
    secret = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"", info=b"pvc-curve-v1\x00").derive(seed)
    public = X25519PrivateKey.from_private_bytes(secret).public_key().public_bytes_raw()
    return secret, public


def mac(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256 (cryptography's, not hashlib's: one OpenSSL per daemon)."""
    from cryptography.hazmat.primitives import hmac

    h = hmac.HMAC(key, hashes.SHA256())
    h.update(data)
    return h.finalize()


def derive(private: X25519PrivateKey, peer_public: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """X25519 + HKDF-SHA256: the shared secret never leaves this function."""
    try:
        peer = X25519PublicKey.from_public_bytes(peer_public)
    except ValueError:
        raise AuthError("not an X25519 public key") from None
    try:
        shared = private.exchange(peer)
    except ValueError:  # a low-order point: the "shared" secret would be all zeros
        raise AuthError("X25519 key agreement failed (low-order key)") from None
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(shared)


class Aead:
    """ChaCha20-Poly1305 under one key; ``open`` raises AuthError on any tampering."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        self._aead = ChaCha20Poly1305(key)

    def seal(self, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        n = nonce()
        return n, self._aead.encrypt(n, plaintext, aad)

    def seal_with(self, n: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """Seal under a nonce the caller guarantees unique for this key (a counter)."""
        return self._aead.encrypt(n, plaintext, aad)

    def open(self, n: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        return aead_open(self._aead, n, ciphertext, aad)


def aead_open(aead: ChaCha20Poly1305, n: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    try:
        return aead.decrypt(n, ciphertext, aad)
    except (InvalidTag, ValueError):
        raise AuthError("message failed authentication (AEAD)") from None
