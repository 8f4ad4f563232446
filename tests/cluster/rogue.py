"""Attack tools for the security tests: a hand-driven minion and a publication tap.

``RogueMinion`` speaks the wire protocol directly (no MinionCore), so a test can do what a
hostile or compromised peer would: authenticate with any id, send returns for jobs that did not
target it, send garbage, keep a session key after its key was deleted.

``PubTap`` sits between the master's PUB port and a minion (the minion's ``publish_port``
points at it): it forwards everything, records every publication, and injects frames, as an
attacker on the network path could.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import zmq

from pvc.crypto import Aead, Ed25519PrivateKey
from pvc.wire.auth import SessionGrant, make_request, open_reply
from pvc.wire.codec import decode
from pvc.wire.messages import MINION_REQ_KINDS, AuthReply
from pvc.wire.sealed import Channel


class RogueMinion:
    def __init__(self, ret_port: int, mid: str, key: Ed25519PrivateKey | None = None) -> None:
        self.mid = mid
        self.key = key or Ed25519PrivateKey.generate()
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(f"tcp://127.0.0.1:{ret_port}")
        self.grant: SessionGrant | None = None
        self.channel: Channel | None = None

    def send_raw(self, payload: bytes) -> None:
        self.sock.send(payload)

    def recv(self, timeout: float = 5.0) -> dict[str, Any] | None:
        if self.sock.poll(int(timeout * 1000)):
            return decode(self.sock.recv(), MINION_REQ_KINDS)
        return None

    def auth(self, timeout: float = 5.0) -> str:
        """Authenticate; returns the key state the master answered."""
        req, eph = make_request(self.mid, self.key)
        self.sock.send(req.encode())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.recv(deadline - time.monotonic())
            if msg is not None and msg["k"] == AuthReply.KIND:
                rep = AuthReply.from_msg(msg)
                from pvc.crypto import load_public

                self.grant = open_reply(rep, self.mid, eph, load_public(rep.mpub))
                if self.grant is not None:
                    self.channel = Channel(self.mid, self.grant.channel_key)
                return rep.status
        raise TimeoutError("no auth reply")

    @property
    def session(self) -> Aead:
        assert self.grant is not None
        return Aead(self.grant.session_key)

    def send_return(self, jid: str, data: Any) -> None:
        assert self.channel is not None
        self.sock.send(self.channel.seal_up("ret", {"jid": jid, "ret": {"ok": True, "data": data}}))

    def close(self) -> None:
        self.sock.close(0)


class PubTap:
    def __init__(self, master_pub_port: int, listen_port: int) -> None:
        ctx = zmq.Context.instance()
        # XSUB/XPUB: the minion's subscriptions pass upstream, so the master sees it subscribed
        self.upstream = ctx.socket(zmq.XSUB)
        self.upstream.setsockopt(zmq.LINGER, 0)
        self.upstream.connect(f"tcp://127.0.0.1:{master_pub_port}")
        self.upstream.send(b"\x01")  # and the tap itself records everything
        self.down = ctx.socket(zmq.XPUB)
        self.down.setsockopt(zmq.LINGER, 0)
        self.down.setsockopt(zmq.XPUB_VERBOSE, 1)
        self.down.bind(f"tcp://127.0.0.1:{listen_port}")
        self.inject_in = ctx.socket(zmq.PULL)
        self.inject_in.bind(f"inproc://pubtap-{id(self)}")
        self.inject_out = ctx.socket(zmq.PUSH)
        self.inject_out.connect(f"inproc://pubtap-{id(self)}")
        self.seen: list[list[bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self.upstream, zmq.POLLIN)
        poller.register(self.inject_in, zmq.POLLIN)
        poller.register(self.down, zmq.POLLIN)
        while not self._stop.is_set():
            for sock, _ in poller.poll(100):
                frames = sock.recv_multipart()
                if sock is self.down:  # a subscription from the minion
                    self.upstream.send_multipart(frames)
                    continue
                if sock is self.upstream:
                    self.seen.append(frames)
                self.down.send_multipart(frames)

    def inject(self, frames: list[bytes]) -> None:
        self.inject_out.send_multipart(frames)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in (self.upstream, self.down, self.inject_in, self.inject_out):
            sock.close(0)
