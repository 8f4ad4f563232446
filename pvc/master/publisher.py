"""Publishing a job: to everyone under the session key, or to named minions alone.

A broadcast or matcher job (glob, grain, compound...) is one publication, encrypted with the
session key and signed once; the same frame (shared by libzmq, not copied) goes down the
channel of each connected minion the target expects, and each minion still decides whether it
matches. A job for a list of ids (or one exact id) is sealed into each target's own channel
instead, so only those minions can read it — Salt cannot do this. Either way untargeted minions
never wake, and a minion whose connection turns out to be gone is reported at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import zmq

from pvc.crypto import Ed25519PrivateKey
from pvc.master.sessions import Session, Sessions
from pvc.wire.inner import JobBox
from pvc.wire.messages import Job
from pvc.wire.publication import seal

# send(session, payload) -> False when the minion's connection is gone
SendSession = Callable[[Session, "bytes | zmq.Frame"], bool]


class Publisher:
    def __init__(self, sessions: Sessions, identity: Ed25519PrivateKey, send: SendSession) -> None:
        self.sessions = sessions
        self.identity = identity
        self.send = send

    def broadcast(self, job: Job, ids: Iterable[str]) -> set[str]:
        """Publish ``job`` to the channels of ``ids``; returns those found unreachable."""
        key = self.sessions.key
        frame = zmq.Frame(seal(job, key.key_id, key.aead, self.identity))
        return {mid for mid in ids if not self._send(mid, lambda _: frame)}

    def to_each(self, job: Job, ids: Iterable[str]) -> set[str]:
        """Seal ``job`` to each of ``ids`` alone; returns those found unreachable."""
        box = JobBox(job)
        return {mid for mid in ids if not self._send(mid, lambda s: s.channel.seal_down(box))}

    def _send(self, mid: str, payload: Callable[[Session], bytes | zmq.Frame]) -> bool:
        session = self.sessions.get(mid)
        return session is not None and self.send(session, payload(session))
