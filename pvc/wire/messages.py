"""Typed records for every message between master and minions.

One dataclass per kind; ``encode()`` gives bytes, ``from_msg()`` validates a decoded map
(types and lengths) or raises ProtocolError. Which socket accepts which kinds is fixed by the
``*_KINDS`` sets, so an unauthenticated peer can only ever reach ``auth`` (and ``sealed``
messages, which it cannot forge).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pvc.crypto import KEY_LEN, NONCE_LEN
from pvc.errors import ProtocolError
from pvc.wire.codec import encode, field

SIG_LEN = 64
MAX_ID = 128


@dataclass(frozen=True)
class AuthRequest:
    """Minion -> master: "this is my id and public key"; signed with that key."""

    KIND: ClassVar[str] = "auth"
    id: str
    pub: bytes
    eph: bytes
    ts: float
    sig: bytes

    def encode(self) -> bytes:
        return encode(self.KIND, {"id": self.id, "pub": self.pub, "eph": self.eph, "ts": self.ts, "sig": self.sig})

    @classmethod
    def from_msg(cls, m: dict[str, Any]) -> AuthRequest:
        return cls(field(m, "id", str, MAX_ID), _key(m, "pub"), _key(m, "eph"),
                   float(field(m, "ts", (int, float))), _sig(m))


@dataclass(frozen=True)
class AuthReply:
    """Master -> minion: key state and, when accepted, the wrapped session + return keys."""

    KIND: ClassVar[str] = "auth_reply"
    status: str
    id: str
    mpub: bytes
    meph: bytes
    n: bytes
    wrapped: bytes
    pub_port: int
    sig: bytes

    def encode(self) -> bytes:
        return encode(self.KIND, {"status": self.status, "id": self.id, "mpub": self.mpub, "meph": self.meph,
                                  "n": self.n, "wrapped": self.wrapped, "pub_port": self.pub_port, "sig": self.sig})

    @classmethod
    def from_msg(cls, m: dict[str, Any]) -> AuthReply:
        return cls(field(m, "status", str, 16), field(m, "id", str, MAX_ID), _key(m, "mpub"),
                   field(m, "meph", bytes, KEY_LEN), field(m, "n", bytes, NONCE_LEN),
                   field(m, "wrapped", bytes, 4096), field(m, "pub_port", int), _sig(m))


@dataclass(frozen=True)
class Sealed:
    """Either direction on the request channel: an AEAD box under the per-minion key.

    ``id`` names the minion the box belongs to; the AAD binds it (and the direction), so a box
    cannot be replayed as another minion's or reflected back.
    """

    KIND: ClassVar[str] = "sealed"
    id: str
    n: bytes
    ct: bytes

    def encode(self) -> bytes:
        return encode(self.KIND, {"id": self.id, "n": self.n, "ct": self.ct})

    @classmethod
    def from_msg(cls, m: dict[str, Any]) -> Sealed:
        return cls(field(m, "id", str, MAX_ID), field(m, "n", bytes, NONCE_LEN), field(m, "ct", bytes))


@dataclass(frozen=True)
class Reauth:
    """Master -> minion: "I have no session for you" (after a master restart). Unsigned on
    purpose: the only thing it can cause is a new, rate-limited auth exchange."""

    KIND: ClassVar[str] = "reauth"

    def encode(self) -> bytes:
        return encode(self.KIND, {})


@dataclass(frozen=True)
class Publication:
    """Master -> all minions on PUB: a job, AEAD-encrypted with the session key and signed."""

    KIND: ClassVar[str] = "pub"
    kid: int
    n: bytes
    ct: bytes
    sig: bytes

    def encode(self) -> bytes:
        return encode(self.KIND, {"kid": self.kid, "n": self.n, "ct": self.ct, "sig": self.sig})

    @classmethod
    def from_msg(cls, m: dict[str, Any]) -> Publication:
        return cls(field(m, "kid", int), field(m, "n", bytes, NONCE_LEN), field(m, "ct", bytes), _sig(m))


@dataclass(frozen=True)
class Job:
    """The plaintext inside a Publication."""

    jid: str
    tgt: str
    tgt_type: str
    fun: str
    args: list[Any]
    kwargs: dict[str, Any]
    ts: float
    timeout: float

    def to_map(self) -> dict[str, Any]:
        return {"jid": self.jid, "tgt": self.tgt, "tt": self.tgt_type, "fun": self.fun,
                "arg": self.args, "kw": self.kwargs, "ts": self.ts, "to": self.timeout}

    @classmethod
    def from_map(cls, m: dict[str, Any]) -> Job:
        return cls(field(m, "jid", str, 64), field(m, "tgt", str, 8192), field(m, "tt", str, 16),
                   field(m, "fun", str, 256), field(m, "arg", list), field(m, "kw", dict),
                   float(field(m, "ts", (int, float))), float(field(m, "to", (int, float))))


MASTER_KINDS = frozenset({AuthRequest.KIND, Sealed.KIND})
MINION_REQ_KINDS = frozenset({AuthReply.KIND, Sealed.KIND, Reauth.KIND})
MINION_PUB_KINDS = frozenset({Publication.KIND})

# Inner kinds of Sealed boxes.
TO_MASTER = ("ret", "hb", "event", "bye", "grains")
TO_MINION = ("ack", "rekey", "pong")


def _key(m: dict[str, Any], name: str) -> bytes:
    value = field(m, name, bytes)
    if len(value) != KEY_LEN:
        raise ProtocolError(f"field '{name}' must be a {KEY_LEN}-byte key")
    return value


def _sig(m: dict[str, Any]) -> bytes:
    return field(m, "sig", bytes, SIG_LEN)
