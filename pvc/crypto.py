"""Thin wrappers over libsodium (PyNaCl), so that every verification failure raises.

Salt's crypto class returned ``{}`` on a bad message and callers forgot to check; here
:func:`verify` and :func:`aead_open` raise :class:`~pvc.errors.AuthError` and nothing else
returns a "maybe". Algorithms: Ed25519 signatures, X25519 key agreement, keyed BLAKE2b as the
KDF and the MAC, ChaCha20-Poly1305 (IETF, 12-byte nonces) as the AEAD, SHA-256 fingerprints.

Why libsodium and not `cryptography`: these are exactly libsodium's primitives (libzmq's CURVE
uses the same library), and `cryptography` links all of OpenSSL into one extension that leaves
about 7 MiB resident in every process that imports it -- on every node, in every idle minion.
With libsodium the minion carries about 2 MiB for its crypto.

The key classes keep the small API the rest of pvc uses (``generate``, ``from_private_bytes``,
``public_key``, ``sign``, ``verify``, ``exchange``, ``*_bytes_raw``): callers never see PyNaCl.
"""

from __future__ import annotations

import os
import struct

from nacl import bindings as _sodium
from nacl._sodium import ffi as _ffi  # the AEAD's hot path: see Aead
from nacl._sodium import lib as _lib
from nacl.exceptions import CryptoError

from pvc.errors import AuthError

KEY_LEN = 32
NONCE_LEN = 12
_AEAD_TAG = 16  # ChaCha20-Poly1305's tag: a box is this much longer than its plaintext
SIGNATURE_LEN = 64
_MAX_DIGEST = 64  # BLAKE2b's largest output: the KDF's ``length`` bound
_KDF_PERSON = b"pvc-kdf-v2"
_MAC_PERSON = b"pvc-mac-v2"
_CURVE_PERSON = b"pvc-curve-v2"

__all__ = [
    "Aead",
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "X25519PrivateKey",
    "X25519PublicKey",
    "curve_keypair",
    "derive",
    "equal",
    "fingerprint",
    "load_public",
    "mac",
    "nonce",
    "public_bytes",
    "random_key",
    "verify",
]


def _exact(raw: bytes, length: int, what: str) -> bytes:
    if not isinstance(raw, bytes) or len(raw) != length:
        raise ValueError(f"{what} must be {length} bytes")
    return raw


class Ed25519PublicKey:
    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        self._raw = _exact(raw, KEY_LEN, "an Ed25519 public key")

    @classmethod
    def from_public_bytes(cls, raw: bytes) -> Ed25519PublicKey:
        return cls(raw)

    def public_bytes_raw(self) -> bytes:
        return self._raw

    def verify(self, signature: bytes, data: bytes) -> None:
        """Raise AuthError unless ``signature`` is this key's signature of ``data``."""
        if not isinstance(signature, bytes) or len(signature) != SIGNATURE_LEN:
            raise AuthError("bad signature")
        try:
            _sodium.crypto_sign_open(signature + data, self._raw)
        except CryptoError:
            raise AuthError("bad signature") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ed25519PublicKey) and equal(self._raw, other._raw)

    def __hash__(self) -> int:
        return hash(self._raw)


class Ed25519PrivateKey:
    """An Ed25519 identity; the 32-byte seed is what a key file stores."""

    __slots__ = ("_public", "_secret", "_seed")

    def __init__(self, seed: bytes) -> None:
        self._seed = _exact(seed, KEY_LEN, "an Ed25519 private key")
        public, self._secret = _sodium.crypto_sign_seed_keypair(seed)
        self._public = Ed25519PublicKey(public)

    @classmethod
    def generate(cls) -> Ed25519PrivateKey:
        return cls(os.urandom(KEY_LEN))

    @classmethod
    def from_private_bytes(cls, seed: bytes) -> Ed25519PrivateKey:
        return cls(seed)

    def private_bytes_raw(self) -> bytes:
        return self._seed

    def public_key(self) -> Ed25519PublicKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        return bytes(_sodium.crypto_sign(data, self._secret)[:SIGNATURE_LEN])


class X25519PublicKey:
    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        self._raw = _exact(raw, KEY_LEN, "an X25519 public key")

    @classmethod
    def from_public_bytes(cls, raw: bytes) -> X25519PublicKey:
        return cls(raw)

    def public_bytes_raw(self) -> bytes:
        return self._raw


class X25519PrivateKey:
    __slots__ = ("_public", "_raw")

    def __init__(self, raw: bytes) -> None:
        self._raw = _exact(raw, KEY_LEN, "an X25519 private key")
        self._public = X25519PublicKey(_sodium.crypto_scalarmult_base(raw))

    @classmethod
    def generate(cls) -> X25519PrivateKey:
        return cls(os.urandom(KEY_LEN))

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> X25519PrivateKey:
        return cls(raw)

    def public_key(self) -> X25519PublicKey:
        return self._public

    def exchange(self, peer: X25519PublicKey) -> bytes:
        """The shared secret; ValueError for a low-order peer key (libsodium refuses an
        all-zero result, which would make the "secret" public)."""
        try:
            return bytes(_sodium.crypto_scalarmult(self._raw, peer.public_bytes_raw()))
        except CryptoError:
            raise ValueError("X25519 key agreement gave a low-order result") from None


def random_key() -> bytes:
    return os.urandom(KEY_LEN)


def nonce() -> bytes:
    return os.urandom(NONCE_LEN)


def equal(a: bytes, b: bytes) -> bool:
    """Constant-time comparison (for MACs and tokens)."""
    return len(a) == len(b) and bool(_sodium.sodium_memcmp(a, b))


def public_bytes(key: Ed25519PublicKey | X25519PublicKey) -> bytes:
    return key.public_bytes_raw()


def load_public(raw: bytes) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise AuthError("not an Ed25519 public key") from None


def fingerprint(raw_public: bytes) -> str:
    """SHA-256 of the raw public key as colon-separated hex, like ``salt-key -f`` prints."""
    digest = bytes(_sodium.crypto_hash_sha256(raw_public)).hex()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def verify(public: Ed25519PublicKey, signature: bytes, data: bytes) -> None:
    public.verify(signature, data)


def _blake2b(data: bytes, key: bytes, person: bytes, length: int) -> bytes:
    return bytes(_sodium.crypto_generichash_blake2b_salt_personal(data, digest_size=length, key=key,
                                                                   person=person))


def curve_keypair(identity: Ed25519PrivateKey) -> tuple[bytes, bytes]:
    """The (secret, public) X25519 pair a daemon uses for ZeroMQ CURVE, derived from its
    Ed25519 identity with keyed BLAKE2b, so no second key file has to be kept in step."""
    secret = _blake2b(b"", identity.private_bytes_raw(), _CURVE_PERSON, KEY_LEN)
    return secret, X25519PrivateKey(secret).public_key().public_bytes_raw()


def mac(key: bytes, data: bytes) -> bytes:
    """Keyed BLAKE2b-256 (a PRF and MAC in its own right; keys of 16-64 bytes)."""
    return _blake2b(data, key, _MAC_PERSON, 32)


def derive(private: X25519PrivateKey, peer_public: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """X25519, then keyed BLAKE2b over (salt, info) with the shared secret as the key -- the
    construction libsodium's own crypto_kdf/crypto_kx use. The shared secret never leaves
    this function. ``length`` is at most 64 bytes."""
    if not 16 <= length <= _MAX_DIGEST:
        raise ValueError(f"derive: length must be 16..{_MAX_DIGEST}")
    try:
        peer = X25519PublicKey.from_public_bytes(peer_public)
    except ValueError:
        raise AuthError("not an X25519 public key") from None
    try:
        shared = private.exchange(peer)
    except ValueError:
        raise AuthError("X25519 key agreement failed (low-order key)") from None
    framed = struct.pack(">I", len(salt)) + salt + info
    return _blake2b(framed, shared, _KDF_PERSON, length)


class Aead:
    """ChaCha20-Poly1305 (IETF) under one key; ``open`` raises AuthError on any tampering.

    Calls libsodium through PyNaCl's own cffi module rather than ``nacl.bindings``: those
    format three error messages on every call whether they fail or not, half the cost of
    sealing or opening a small box, and every box of every channel passes here (at 10,000
    minions, 40,000 per job)."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = _exact(key, KEY_LEN, "an AEAD key")

    def seal(self, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        n = nonce()
        return n, self.seal_with(n, plaintext, aad)

    def seal_with(self, n: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """Seal under a nonce the caller guarantees unique for this key (a counter)."""
        out = _ffi.new("unsigned char[]", len(plaintext) + _AEAD_TAG)
        if _lib.crypto_aead_chacha20poly1305_ietf_encrypt(out, _ffi.NULL, plaintext, len(plaintext), aad, len(aad),
                                                          _ffi.NULL, _exact(n, NONCE_LEN, "a nonce"), self._key):
            raise ValueError("AEAD encryption failed")
        return _ffi.buffer(out)[:]

    def open(self, n: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        if (not isinstance(n, bytes) or len(n) != NONCE_LEN or not isinstance(ciphertext, bytes)
                or len(ciphertext) < _AEAD_TAG):
            raise AuthError("message failed authentication (AEAD: malformed)")
        out = _ffi.new("unsigned char[]", len(ciphertext) - _AEAD_TAG)
        if _lib.crypto_aead_chacha20poly1305_ietf_decrypt(out, _ffi.NULL, _ffi.NULL, ciphertext, len(ciphertext),
                                                          aad, len(aad), n, self._key):
            raise AuthError("message failed authentication (AEAD)")
        return _ffi.buffer(out)[:]
