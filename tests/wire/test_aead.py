"""pvc.crypto.Aead calls libsodium's ChaCha20-Poly1305 (IETF) directly: its boxes must be
exactly libsodium's through PyNaCl's public bindings, and every kind of tampering refused."""

from __future__ import annotations

import os

import pytest
from nacl import bindings

from pvc.crypto import Aead
from pvc.errors import AuthError

KEY, NONCE, AAD = os.urandom(32), os.urandom(12), b"pvc-up\x00web1"


@pytest.mark.parametrize("size", [0, 1, 60, 4096, 100_000])
def test_boxes_are_libsodiums(size: int) -> None:
    plain = os.urandom(size)
    box = Aead(KEY).seal_with(NONCE, plain, AAD)
    assert box == bindings.crypto_aead_chacha20poly1305_ietf_encrypt(plain, AAD, NONCE, KEY)
    assert Aead(KEY).open(NONCE, box, AAD) == plain
    assert Aead(KEY).open(NONCE, bindings.crypto_aead_chacha20poly1305_ietf_encrypt(plain, b"", NONCE, KEY), b"") == plain


def test_every_tampering_is_refused() -> None:
    box = Aead(KEY).seal_with(NONCE, b"hello", AAD)
    flipped = bytes([box[0] ^ 1]) + box[1:]
    for n, ct, aad in [(NONCE, flipped, AAD), (NONCE, box[:-1], AAD), (NONCE, box, AAD + b"x"),
                       (os.urandom(12), box, AAD), (NONCE[:11], box, AAD), (NONCE, box[:15], AAD),
                       (NONCE, b"", AAD), (NONCE, bytearray(box), AAD), ("x" * 12, box, AAD)]:
        with pytest.raises(AuthError):
            Aead(KEY).open(n, ct, aad)  # type: ignore[arg-type]
    with pytest.raises(AuthError):
        Aead(os.urandom(32)).open(NONCE, box, AAD)
    with pytest.raises(ValueError):
        Aead(KEY).seal_with(NONCE[:8], b"x", AAD)
