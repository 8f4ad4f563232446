"""The authentication exchange: the only thing an unauthenticated peer may do.

Minion: sends an :class:`AuthRequest` signed by its Ed25519 identity key and carrying a fresh
X25519 key. Master: checks the signature and the key state; if accepted, derives two per-minion
keys with X25519 + HKDF (one to wrap the session key, one for the ``sealed`` channel), wraps
the current session key and signs the reply, binding it to the request's fresh key so an old
reply cannot be replayed. The minion checks the master's key against its pin before using
anything in the reply.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from pvc import PROTOCOL_VERSION
from pvc.crypto import (Aead, Ed25519PrivateKey, Ed25519PublicKey, X25519PrivateKey, derive,
                        load_public, public_bytes, verify)
from pvc.errors import AuthError
from pvc.wire.codec import pack, unpack
from pvc.wire.messages import AuthReply, AuthRequest

ACCEPTED = "accepted"
PENDING = "pending"
REJECTED = "rejected"
DENIED = "denied"
BUSY = "busy"
STATUSES = (ACCEPTED, PENDING, REJECTED, DENIED, BUSY)

_REQ_TAG = b"pvc-auth-req\x00"
_REP_TAG = b"pvc-auth-rep\x00"
_HKDF_INFO = b"pvc-auth-v1\x00"


@dataclass(frozen=True)
class SessionGrant:
    """What an accepted minion learns: the publication key and its own channel key."""

    key_id: int
    session_key: bytes
    channel_key: bytes
    pub_port: int


def _req_bytes(mid: str, pub: bytes, eph: bytes, ts: float) -> bytes:
    return _REQ_TAG + pack([PROTOCOL_VERSION, mid, pub, eph, ts])


def _rep_bytes(r: AuthReply, req_eph: bytes) -> bytes:
    return _REP_TAG + pack([PROTOCOL_VERSION, r.status, r.id, req_eph, r.mpub, r.meph, r.n, r.wrapped, r.pub_port])


def _keys(private: X25519PrivateKey, peer: bytes, mid: str) -> tuple[bytes, bytes]:
    okm = derive(private, peer, salt=b"", info=_HKDF_INFO + mid.encode(), length=64)
    return okm[:32], okm[32:]


def make_request(mid: str, identity: Ed25519PrivateKey) -> tuple[AuthRequest, X25519PrivateKey]:
    eph = X25519PrivateKey.generate()
    pub = public_bytes(identity.public_key())
    eph_pub = public_bytes(eph.public_key())
    ts = time.time()
    sig = identity.sign(_req_bytes(mid, pub, eph_pub, ts))
    return AuthRequest(mid, pub, eph_pub, ts, sig), eph


def check_request(req: AuthRequest, window: float) -> Ed25519PublicKey:
    """Master side: the request is signed by the key it carries and is recent."""
    if abs(time.time() - req.ts) > window:
        raise AuthError(f"auth request from '{req.id}' is outside the time window")
    key = load_public(req.pub)
    verify(key, req.sig, _req_bytes(req.id, req.pub, req.eph, req.ts))
    return key


def make_reply(req: AuthRequest, status: str, master: Ed25519PrivateKey, pub_port: int,
               key_id: int = 0, session_key: bytes = b"") -> tuple[AuthReply, bytes]:
    """Build the signed reply; returns it and the per-minion channel key (empty unless accepted)."""
    meph = X25519PrivateKey.generate()
    wrapped, n, channel = b"", b"\x00" * 12, b""
    if status == ACCEPTED:
        wrap_key, channel = _keys(meph, req.eph, req.id)
        n, wrapped = Aead(wrap_key).seal(pack([key_id, session_key]), req.id.encode())
    unsigned = AuthReply(status, req.id, public_bytes(master.public_key()), public_bytes(meph.public_key()),
                         n, wrapped, pub_port, b"")
    return dataclasses.replace(unsigned, sig=master.sign(_rep_bytes(unsigned, req.eph))), channel


def open_reply(rep: AuthReply, mid: str, eph: X25519PrivateKey, master_pub: Ed25519PublicKey) -> SessionGrant | None:
    """Minion side: verify against the pinned master key; return the grant when accepted."""
    if rep.id != mid:
        raise AuthError("auth reply is for another minion id")
    verify(master_pub, rep.sig, _rep_bytes(rep, public_bytes(eph.public_key())))
    if rep.status != ACCEPTED:
        return None
    wrap_key, channel = _keys(eph, rep.meph, mid)
    inner = unpack(Aead(wrap_key).open(rep.n, rep.wrapped, mid.encode()))
    if not (isinstance(inner, list) and len(inner) == 2 and isinstance(inner[0], int) and isinstance(inner[1], bytes)):
        raise AuthError("auth reply carries a malformed session key")
    return SessionGrant(inner[0], inner[1], channel, rep.pub_port)
