import time

import pytest

from pvc.crypto import Aead, Ed25519PrivateKey
from pvc.errors import AuthError, ReplayError
from pvc.wire.codec import decode
from pvc.wire.messages import MINION_PUB_KINDS, Job, Publication
from pvc.wire.publication import check_signature, open_job, seal
from pvc.wire.replay import ReplayGuard


def _job(jid="1", ts=None):
    return Job(jid, "*", "glob", "test.ping", [], {}, ts or time.time(), 5.0)


def test_seal_open_roundtrip():
    master, key = Ed25519PrivateKey.generate(), Aead(b"s" * 32)
    pub = Publication.from_msg(decode(seal(_job(), 3, key, master), MINION_PUB_KINDS))
    check_signature(pub, master.public_key())
    assert open_job(pub, key).fun == "test.ping"


def test_forged_signature_and_swapped_fields_refused():
    master, key = Ed25519PrivateKey.generate(), Aead(b"s" * 32)
    pub = Publication.from_msg(decode(seal(_job(), 3, key, master), MINION_PUB_KINDS))
    with pytest.raises(AuthError):
        check_signature(pub, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(AuthError):
        check_signature(Publication(4, pub.n, pub.ct, pub.sig), master.public_key())
    with pytest.raises(AuthError):
        check_signature(Publication(3, pub.n, pub.ct[:-1] + b"\x00", pub.sig), master.public_key())


def test_wrong_session_key_cannot_decrypt():
    master = Ed25519PrivateKey.generate()
    pub = Publication.from_msg(decode(seal(_job(), 3, Aead(b"s" * 32), master), MINION_PUB_KINDS))
    with pytest.raises(AuthError):
        open_job(pub, Aead(b"t" * 32))


def test_replay_guard():
    guard = ReplayGuard(window=60)
    now = time.time()
    guard.check("a", now, now)
    with pytest.raises(ReplayError, match="already seen"):
        guard.check("a", now, now)
    with pytest.raises(ReplayError, match="window"):
        guard.check("b", now - 120, now)
    guard.check("b", now, now + 1)
