"""The outer messages between master and minions, one typed record per kind.

Two ports, a closed set of kinds each way:

* the **enrolment** port (``ret_port``, plain ZeroMQ, frames of a few KiB at most): a stranger
  may send ``hello`` (and gets a fresh ``challenge``) and ``auth`` (and gets an ``auth_reply``);
* the **channel** port (``channel_port``, ZeroMQ CURVE; only keys of authenticated minions
  complete the handshake): ``sealed`` boxes both ways; from the master also ``reauth``, and
  ``pub`` frames for broadcast jobs (one connection per minion carries everything: at 10,000
  minions a second connection per minion would cost the master 10,000 descriptors and
  ~30-70 KiB of libzmq buffers each).

Example::

    AuthRequest.from_map(decode(frame, ENROL_KINDS, 4096))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pvc.crypto import KEY_LEN, NONCE_LEN
from pvc.wire.codec import encode
from pvc.wire.record import Record, f, record

SIG_LEN = 64
MAX_ID = 128
CHALLENGE_LEN = 32


class Outer(Record):
    """An outer message: its bytes are ``{"v", "k", ...fields}``."""

    def encode(self) -> bytes:
        return encode(self.KIND, self.to_map())


@record("hello")
@dataclass(frozen=True)
class Hello(Outer):
    """Minion -> master, enrolment port: "give me a challenge"."""


@record("challenge")
@dataclass(frozen=True)
class Challenge(Outer):
    """Master -> minion: a fresh value the next ``auth`` must sign (single use, short-lived)."""

    c: bytes = f(size=CHALLENGE_LEN)


@record("busy")
@dataclass(frozen=True)
class Busy(Outer):
    """Master -> minion, enrolment port: "my auth queue is full; come back in ``wait`` seconds".

    The master hands out these times at the rate it serves auths, so a fleet arriving at once
    comes back spread out, about once each, instead of every minion retrying on a doubling
    backoff (~4 refused attempts per minion at 10,000). Unsigned, like a closed connection: the
    worst a forger can do is delay an enrolment by the at most ``MAX_BUSY_WAIT`` seconds it may say.
    """

    wait: float = f(lo=0, hi=60)


MAX_BUSY_WAIT = 60.0


@record("auth")
@dataclass(frozen=True)
class AuthRequest(Outer):
    """Minion -> master: "this is my id and public key"; signed with that key, over the
    master's challenge, so it can be used once and only on the connection that asked."""

    id: str = f(max=MAX_ID)
    pub: bytes = f(size=KEY_LEN)
    eph: bytes = f(size=KEY_LEN)
    curve: bytes = f(size=KEY_LEN)
    chal: bytes = f(size=CHALLENGE_LEN)
    sig: bytes = f(size=SIG_LEN)


@record("auth_reply")
@dataclass(frozen=True)
class AuthReply(Outer):
    """Master -> minion: key state and, when accepted, the wrapped session + channel keys, the
    channel port and CURVE key, and the master's clock."""

    status: str = f(max=16)
    id: str = f(max=MAX_ID)
    mpub: bytes = f(size=KEY_LEN)
    meph: bytes = f(size=KEY_LEN)
    n: bytes = f(size=NONCE_LEN)
    wrapped: bytes = f(max=4096)
    chan_port: int = f(lo=0, hi=65535)
    mcurve: bytes = f(size=KEY_LEN)
    mtime: float = f(lo=0)
    every: float = f(lo=0, hi=86_400)  # the heartbeat pace asked of this fleet (s): paces the transport too
    sig: bytes = f(size=SIG_LEN)


@record("sealed")
@dataclass(frozen=True)
class Sealed(Outer):
    """Either direction on the channel: an AEAD box under the per-minion key, numbered.

    ``c`` is the sender's counter (the nonce is derived from it and the direction); the
    receiver refuses a number it has seen or one too far behind (see :mod:`pvc.wire.sealed`).
    """

    id: str = f(max=MAX_ID)
    c: int = f(lo=0, hi=2**63)
    ct: bytes = f()


@record("reauth")
@dataclass(frozen=True)
class Reauth(Outer):
    """Master -> minion: "I have no session for you". Unsigned on purpose: the only thing it
    can cause is a new, rate-limited auth exchange."""


@record("pub")
@dataclass(frozen=True)
class Publication(Outer):
    """Master -> each minion's channel: a broadcast job, AEAD-encrypted with the session key and signed."""

    kid: int = f(lo=0, hi=2**63)
    n: bytes = f(size=NONCE_LEN)
    ct: bytes = f()
    sig: bytes = f(size=SIG_LEN)


@record("job")
@dataclass(frozen=True)
class Job(Record):
    """A job: inside a Publication (broadcast) or a sealed box (list targets)."""

    jid: str = f(max=64)
    tgt: str = f(max=8192)
    tgt_type: str = f(max=16, key="tt")
    fun: str = f(max=256)
    args: list[Any] = f(key="arg")
    kwargs: dict[str, Any] = f(key="kw")
    ts: float = f(lo=0)
    timeout: float = f(lo=0, key="to")


ENROL_KINDS = frozenset({Hello.KIND, AuthRequest.KIND})
MASTER_CHANNEL_KINDS = frozenset({Sealed.KIND})
MINION_ENROL_KINDS = frozenset({Challenge.KIND, AuthReply.KIND, Busy.KIND})
MINION_CHANNEL_KINDS = frozenset({Sealed.KIND, Reauth.KIND, Publication.KIND})
