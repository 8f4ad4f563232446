"""Publications: broadcast jobs, AEAD-encrypted with the session key, then signed.

The signature covers a domain tag, the protocol version, the key id, the nonce and the
ciphertext, so nothing in the frame can be swapped. Minions verify the signature first (cheap
rejection of forgeries without touching the AEAD), then decrypt.

Only broadcast and matcher jobs (glob, grain, compound...) are published: the master encodes
and signs one frame and writes that same frame (shared, not copied) to every connected
minion's channel. A job for a list of ids is sealed to each of those minions' channels instead
(:class:`pvc.wire.inner.JobBox`), so no other minion can read it.
"""

from __future__ import annotations

import struct

from pvc import PROTOCOL_VERSION
from pvc.crypto import Aead, Ed25519PrivateKey, Ed25519PublicKey, verify
from pvc.wire.codec import pack, unpack
from pvc.wire.messages import Job, Publication

_TAG = b"pvc-pub\x00"
_AAD = b"pvc-pub-aad\x00"


def _signed_bytes(kid: int, n: bytes, ct: bytes) -> bytes:
    return _TAG + struct.pack(">BQ", PROTOCOL_VERSION, kid) + n + ct


def seal(job: Job, kid: int, key: Aead, signer: Ed25519PrivateKey) -> bytes:
    n, ct = key.seal(pack(job.to_map()), _AAD + struct.pack(">Q", kid))
    return Publication(kid, n, ct, signer.sign(_signed_bytes(kid, n, ct))).encode()


def check_signature(pub: Publication, master: Ed25519PublicKey) -> None:
    verify(master, pub.sig, _signed_bytes(pub.kid, pub.n, pub.ct))


def open_job(pub: Publication, key: Aead, max_size: int) -> Job:
    plain = key.open(pub.n, pub.ct, _AAD + struct.pack(">Q", pub.kid))
    return Job.from_map(unpack(plain, max_size))
