"""The authentication exchange: the only thing an unauthenticated peer may do.

1. Minion -> ``hello``; master -> ``challenge`` (fresh, bound to that connection, single use).
2. Minion -> :class:`AuthRequest`: its id, Ed25519 identity key, a fresh X25519 key and its
   CURVE key, signed by the identity key over the challenge. No clock is involved: freshness
   comes from the challenge, so a captured request is worthless and skewed clocks do not matter.
3. Master checks the signature and the key state; if accepted, derives two per-minion keys with
   X25519 + keyed BLAKE2b (one wraps the session key, one is the sealed channel's), and signs a reply
   bound to the request's fresh key and challenge. The reply tells the minion the channel
   port, the master's CURVE key and the master's clock (so the minion can judge the
   age of publications in the master's time). The minion checks the master's key against its
   pin before using anything in the reply.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from pvc import PROTOCOL_VERSION
from pvc.crypto import (
    Aead,
    Ed25519PrivateKey,
    Ed25519PublicKey,
    X25519PrivateKey,
    derive,
    load_public,
    public_bytes,
    verify,
)
from pvc.errors import AuthError
from pvc.wire.codec import pack, unpack
from pvc.wire.messages import AuthReply, AuthRequest

ACCEPTED = "accepted"
PENDING = "pending"
REJECTED = "rejected"
DENIED = "denied"
BUSY = "busy"
STATUSES = (ACCEPTED, PENDING, REJECTED, DENIED, BUSY)

_REQ_TAG = b"pvc-auth-req-v2\x00"
_REP_TAG = b"pvc-auth-rep-v2\x00"
_KDF_INFO = b"pvc-auth-v2\x00"


@dataclass(frozen=True)
class SessionGrant:
    """What an accepted minion learns: the publication key, its channel key, where to connect,
    and how far the master's clock is from its own (master minus local, seconds)."""

    key_id: int
    session_key: bytes
    channel_key: bytes
    chan_port: int
    master_curve: bytes
    clock_offset: float
    every: float  # the heartbeat pace asked of the fleet at auth (0: the minion's own)


@dataclass(frozen=True)
class Offer:
    """What a minion offers at auth: identity, fresh exchange key, CURVE key."""

    mid: str
    identity: Ed25519PrivateKey
    curve_pub: bytes


def _req_bytes(r: AuthRequest) -> bytes:
    return _REQ_TAG + pack([PROTOCOL_VERSION, r.id, r.pub, r.eph, r.curve, r.chal])


def _rep_bytes(r: AuthReply, req: AuthRequest) -> bytes:
    return _REP_TAG + pack([PROTOCOL_VERSION, r.status, r.id, req.eph, req.chal, r.mpub, r.meph, r.n,
                            r.wrapped, r.chan_port, r.mcurve, r.mtime, r.every])


def _keys(private: X25519PrivateKey, peer: bytes, mid: str) -> tuple[bytes, bytes]:
    okm = derive(private, peer, salt=b"", info=_KDF_INFO + mid.encode(), length=64)
    return okm[:32], okm[32:]


def make_request(offer: Offer, challenge: bytes) -> tuple[AuthRequest, X25519PrivateKey]:
    eph = X25519PrivateKey.generate()
    unsigned = AuthRequest(offer.mid, public_bytes(offer.identity.public_key()), public_bytes(eph.public_key()),
                           offer.curve_pub, challenge, b"\x00" * 64)
    return dataclasses.replace(unsigned, sig=offer.identity.sign(_req_bytes(unsigned))), eph


def check_request(req: AuthRequest) -> Ed25519PublicKey:
    """Master side: the request is signed by the key it carries (the challenge is checked by
    the caller, which knows which connection it was issued to)."""
    key = load_public(req.pub)
    verify(key, req.sig, _req_bytes(req))
    return key


@dataclass(frozen=True)
class ReplyParams:
    """The master's side of a reply: its identity, ports, CURVE key."""

    identity: Ed25519PrivateKey
    chan_port: int
    curve_pub: bytes


def make_reply(req: AuthRequest, status: str, params: ReplyParams, key_id: int = 0,
               session_key: bytes = b"", every: float = 0.0) -> tuple[AuthReply, bytes]:
    """Build the signed reply; returns it and the per-minion channel key (empty unless accepted).
    ``every``: the heartbeat pace the master asks of its fleet (0: the minion's own)."""
    meph = X25519PrivateKey.generate()
    wrapped, n, channel = b"", b"\x00" * 12, b""
    if status == ACCEPTED:
        wrap_key, channel = _keys(meph, req.eph, req.id)
        n, wrapped = Aead(wrap_key).seal(pack([key_id, session_key]), req.id.encode())
    unsigned = AuthReply(status, req.id, public_bytes(params.identity.public_key()), public_bytes(meph.public_key()),
                         n, wrapped, params.chan_port, params.curve_pub, time.time(), every, b"\x00" * 64)
    return dataclasses.replace(unsigned, sig=params.identity.sign(_rep_bytes(unsigned, req))), channel


def open_reply(rep: AuthReply, req: AuthRequest, eph: X25519PrivateKey,
               master_pub: Ed25519PublicKey) -> SessionGrant | None:
    """Minion side: verify against the pinned master key; return the grant when accepted."""
    if rep.id != req.id:
        raise AuthError("auth reply is for another minion id")
    verify(master_pub, rep.sig, _rep_bytes(rep, req))
    if rep.status != ACCEPTED:
        return None
    wrap_key, channel = _keys(eph, rep.meph, req.id)
    inner = unpack(Aead(wrap_key).open(rep.n, rep.wrapped, req.id.encode()), 4096)
    if not (isinstance(inner, list) and len(inner) == 2 and type(inner[0]) is int and isinstance(inner[1], bytes)
            and len(inner[1]) == 32):
        raise AuthError("auth reply carries a malformed session key")
    return SessionGrant(inner[0], inner[1], channel, rep.chan_port, rep.mcurve,
                        rep.mtime - time.time(), rep.every)
