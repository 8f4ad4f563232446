"""Publishing a job: to everyone under the session key, or to named minions alone.

A broadcast or matcher job (glob, grain, compound...) is one publication on PUB, encrypted
with the session key and signed; every minion decides whether it matches. A job for a list
of ids (or one exact id) is sealed into each target's own channel instead, so only those
minions can read it — Salt cannot do this — and untargeted minions never wake.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import zmq

from pvc.crypto import Ed25519PrivateKey
from pvc.master.sessions import Sessions
from pvc.wire.inner import JobBox
from pvc.wire.messages import Job
from pvc.wire.publication import BROADCAST, seal


class Publisher:
    def __init__(self, pub: zmq.Socket, sessions: Sessions, identity: Ed25519PrivateKey,
                 send_minion: Callable[[bytes, bytes], None]) -> None:
        self.pub = pub
        self.sessions = sessions
        self.identity = identity
        self.send_minion = send_minion

    def broadcast(self, job: Job) -> None:
        key = self.sessions.key
        self.pub.send_multipart([BROADCAST, seal(job, key.key_id, key.aead, self.identity)])

    def to_each(self, job: Job, ids: Iterable[str]) -> None:
        box = JobBox(job)
        for mid in ids:
            session = self.sessions.get(mid)
            if session is not None:
                self.send_minion(session.peer, session.channel.seal_down(box))
