"""pvc.wire.publication: broadcast jobs encrypted with the session key, then signed."""

from __future__ import annotations

import dataclasses
import struct

import pytest

from pvc.crypto import Aead, Ed25519PrivateKey
from pvc.errors import AuthError, ProtocolError
from pvc.wire.codec import decode, pack
from pvc.wire.messages import MINION_CHANNEL_KINDS, Publication
from pvc.wire.publication import (
    _AAD,
    _signed_bytes,
    check_signature,
    open_job,
    seal,
)
from tests.wire import samples

MASTER = Ed25519PrivateKey.generate()
KEY = Aead(b"s" * 32)
MAX = 1 << 20


def _pub(kid: int = 3) -> Publication:
    return Publication.from_map(decode(seal(samples.JOB, kid, KEY, MASTER), MINION_CHANNEL_KINDS, MAX))


def test_seal_open_round_trip() -> None:
    pub = _pub()
    check_signature(pub, MASTER.public_key())
    assert open_job(pub, KEY, MAX) == samples.JOB
    assert pub.kid == 3


def test_forged_signature_and_swapped_fields_refused() -> None:
    pub = _pub()
    with pytest.raises(AuthError):
        check_signature(pub, Ed25519PrivateKey.generate().public_key())
    for forged in (dataclasses.replace(pub, kid=4), dataclasses.replace(pub, ct=pub.ct[:-1] + b"\x00"),
                   dataclasses.replace(pub, n=b"\x00" * 12), dataclasses.replace(pub, sig=b"\x00" * 64)):
        with pytest.raises(AuthError):
            check_signature(forged, MASTER.public_key())


def test_kid_is_bound_into_the_aead_too() -> None:
    pub = _pub(3)
    with pytest.raises(AuthError):
        open_job(dataclasses.replace(pub, kid=4), KEY, MAX)


def test_wrong_session_key_cannot_decrypt() -> None:
    with pytest.raises(AuthError):
        open_job(_pub(), Aead(b"t" * 32), MAX)


def test_body_size_bounded() -> None:
    big = dataclasses.replace(samples.JOB, args=["x" * 10_000])
    pub = Publication.from_map(decode(seal(big, 1, KEY, MASTER), MINION_CHANNEL_KINDS, MAX))
    with pytest.raises(ProtocolError, match="exceeds"):
        open_job(pub, KEY, 4096)


def _authentic(plain: bytes, kid: int = 1) -> Publication:
    n, ct = KEY.seal(plain, _AAD + struct.pack(">Q", kid))
    return Publication(kid, n, ct, MASTER.sign(_signed_bytes(kid, n, ct)))


@pytest.mark.parametrize("plain", [b"\xc1", pack([1]), pack({"jid": "j"}), pack({**samples.JOB.to_map(), "ts": -1.0}),
                                   pack({**samples.JOB.to_map(), "arg": [float("inf")]})])
def test_authentic_publication_with_a_bad_job_is_a_protocol_error(plain: bytes) -> None:
    pub = _authentic(plain)
    check_signature(pub, MASTER.public_key())
    with pytest.raises(ProtocolError):
        open_job(pub, KEY, MAX)
