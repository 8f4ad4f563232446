"""Attack tools for the security tests: a hand-driven minion, raw TCP and ZMTP peers, a tap.

``RogueMinion`` speaks the wire protocol directly (no MinionCore), so a test can do what a
hostile or compromised peer would: say hello, answer a challenge (or not, or with a garbage
signature), open the CURVE channel with its own keys once accepted, send any record or raw
bytes inside a valid sealed box (or any frame at all), capture what it sent and replay it, and
read what the master sends down that one connection: sealed boxes, and the publications of
the broadcast jobs whose target expects it::

    rogue = RogueMinion(cluster, "evil")
    assert rogue.auth() == "accepted"
    box = rogue.send_up(Heartbeat())           # the bytes that went out, for a replay
    rogue.send_channel(box)                    # the same box again: the master must refuse it

The enrolment port (``ret_port``) is raw TCP carrying ``<u32 length><msgpack>`` frames
(:mod:`pvc.wire.stream`), and the master closes a connection at its first violation.
``EnrolStream`` is one such connection from a plain Python socket: framed payloads, raw bytes
(an endless stream, a huge declared length, a frame left unfinished), and whether the master
closed it. ``RogueMinion.enrol`` is one; ``reconnect()`` opens the next.

``RawZmtp`` is a stranger below ZeroMQ for the ports that speak ZMTP: a TCP socket that does
the ZMTP 3.0 handshake by hand and then sends frames however it likes, which no libzmq client
can be made to do. ``curve_socket`` opens a CURVE client with any key.

``ChannelTap`` sits on one minion's channel, between the master's ``channel_port`` and the
minion (whose ``channel_port`` option points at the tap). It needs the master's CURVE secret to
stand in for the master towards the minion, and that minion's own CURVE key to connect to the
master for it: an attacker who broke the transport, so what is left to test is the application
layer (the publication's signature, session key and replay checks; the sealed channel's own).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any, TypeVar

import zmq

from pvc.crypto import Aead, Ed25519PrivateKey, curve_keypair, load_public
from pvc.keys import load_or_create_identity
from pvc.wire.auth import Offer, SessionGrant, make_request, open_reply
from pvc.wire.codec import decode, pack
from pvc.wire.inner import EventMsg, Heartbeat, Ret, ReturnRec
from pvc.wire.messages import (
    MINION_CHANNEL_KINDS,
    MINION_ENROL_KINDS,
    AuthReply,
    AuthRequest,
    Challenge,
    Hello,
    Publication,
    Sealed,
)
from pvc.wire.record import Record
from pvc.wire.sealed import _UP_NONCE, Channel
from pvc.wire.stream import Deframer, frame

R = TypeVar("R", bound=Record)

HOST = "127.0.0.1"


def master_identity(master_dir: Path) -> Ed25519PrivateKey:
    return load_or_create_identity(str(Path(master_dir) / "root" / "pki" / "master"), "master")


def master_curve(master_dir: Path) -> tuple[bytes, bytes]:
    """The master's CURVE (secret, public) pair, derived from its identity as the master does."""
    return curve_keypair(master_identity(master_dir))


def curve_socket(kind: int, server_pub: bytes, keys: tuple[bytes, bytes] | None = None) -> zmq.Socket:
    """A CURVE client socket with ``keys`` = (secret, public), a fresh stranger's by default."""
    secret, public = keys or curve_keypair(Ed25519PrivateKey.generate())
    sock: zmq.Socket = zmq.Context.instance().socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.CURVE_SERVERKEY, server_pub)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, public)
    sock.setsockopt(zmq.CURVE_SECRETKEY, secret)
    return sock


class EnrolStream:
    """One raw TCP connection to the enrolment port, framed by hand (or not at all)."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.deframer = Deframer(1 << 20)
        self.inbox: list[bytes] = []
        self.closed = False  # the master closed it (or it broke)

    def send(self, payload: bytes) -> bool:
        """One frame around ``payload``; False if the connection is gone."""
        return self.send_raw(frame(payload))

    def send_raw(self, data: bytes) -> bool:
        """``data`` exactly as given: junk, a lying length, part of a frame."""
        if self.closed:
            return False
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            self.closed = True
            return False

    def _read(self, timeout: float) -> bool:
        """Read what arrives within ``timeout``: False on timeout or when closed."""
        if self.closed:
            return False
        self.sock.settimeout(max(0.001, timeout))
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return False
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.inbox += self.deframer.feed(data)
        return True

    def recv(self, timeout: float = 5.0) -> bytes | None:
        """The next payload, or None after ``timeout`` or when the master closed the connection."""
        deadline = time.monotonic() + timeout
        while not self.inbox and self._read(deadline - time.monotonic()):
            pass
        return self.inbox.pop(0) if self.inbox else None

    def wait_closed(self, timeout: float = 5.0) -> bool:
        """Whether the master closes the connection within ``timeout`` (what it sent is kept)."""
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self._read(deadline - time.monotonic())
        return self.closed

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass


class RogueMinion:
    """A minion driven by hand. ``cluster`` is a :class:`tests.cluster.pvc.PvcCluster` (or
    anything with a ``ret_port``)."""

    def __init__(self, cluster: Any, mid: str, key: Ed25519PrivateKey | None = None) -> None:
        self.cluster = cluster
        self.mid = mid
        self.key = key or Ed25519PrivateKey.generate()
        self.curve = curve_keypair(self.key)
        self.enrol = EnrolStream(cluster.ret_port)
        self.grant: SessionGrant | None = None
        self.channel: Channel | None = None
        self.chan: zmq.Socket | None = None
        self.sent: list[bytes] = []  # every enrolment payload sent, for replays
        self.downs: list[Sealed] = []  # boxes read off the channel while looking for a publication
        self.pubs: list[Publication] = []  # and publications read while looking for a box

    # -- enrolment ------------------------------------------------------------------------
    def reconnect(self) -> EnrolStream:
        """Close the enrolment connection and open a new one."""
        self.enrol.close()
        self.enrol = EnrolStream(self.cluster.ret_port)
        return self.enrol

    def send_enrol(self, payload: bytes) -> bool:
        """One frame on the enrolment connection; False if the master had closed it."""
        self.sent.append(payload)
        return self.enrol.send(payload)

    def send_raw(self, data: bytes) -> bool:
        return self.enrol.send_raw(data)

    def recv_enrol(self, timeout: float = 5.0) -> dict[str, Any] | None:
        payload = self.enrol.recv(timeout)
        return None if payload is None else decode(payload, MINION_ENROL_KINDS, 65536)

    def enrol_closed(self, timeout: float = 2.0) -> bool:
        """Whether the master closes the enrolment connection within ``timeout``."""
        return self.enrol.wait_closed(timeout)

    def hello(self, timeout: float = 5.0) -> bytes:
        """Ask for a challenge (on a new connection if the master closed this one); return it."""
        if self.enrol.closed:
            self.reconnect()
        self.send_enrol(Hello().encode())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.recv_enrol(deadline - time.monotonic())
            if msg is not None and msg["k"] == Challenge.KIND:
                return Challenge.from_map(msg).c
            if self.enrol.closed:
                break
        raise TimeoutError(f"{self.mid}: no challenge")

    def request(self, challenge: bytes, mid: str | None = None) -> tuple[AuthRequest, Any]:
        offer = Offer(self.mid if mid is None else mid, self.key, self.curve[1])
        return make_request(offer, challenge)

    def auth(self, timeout: float = 5.0, connect: bool = True) -> str:
        """hello -> challenge -> auth -> reply; when accepted, open the channel (``connect``) and
        send the first heartbeat, which makes the session live."""
        req, eph = self.request(self.hello(timeout))
        self.send_enrol(req.encode())
        rep = self.await_reply(timeout)
        if rep is None:
            raise TimeoutError(f"{self.mid}: no auth reply")
        self.grant = open_reply(rep, req, eph, load_public(rep.mpub))
        if self.grant is not None:
            self.channel = Channel(self.mid, self.grant.channel_key)
            if connect:
                self.connect()
        return rep.status

    def await_reply(self, timeout: float) -> AuthReply | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.enrol.closed:
            msg = self.recv_enrol(deadline - time.monotonic())
            if msg is not None and msg["k"] == AuthReply.KIND:
                return AuthReply.from_map(msg)
        return None

    # -- channel ------------------------------------------------------------------------
    def connect(self, routing_id: bytes = b"") -> None:
        """Open the CURVE channel (with ``routing_id`` as its ZeroMQ identity, if given: the
        master must not route by what a peer claims) and send the first heartbeat."""
        assert self.grant is not None
        self.chan = curve_socket(zmq.DEALER, self.grant.master_curve, self.curve)
        self.chan.setsockopt(zmq.RCVHWM, 100_000)
        if routing_id:
            self.chan.setsockopt(zmq.ROUTING_ID, routing_id)
        self.chan.connect(f"tcp://{HOST}:{self.grant.chan_port}")
        self.send_up(Heartbeat())

    def send_channel(self, payload: bytes) -> None:
        assert self.chan is not None
        self.chan.send(payload)

    def send_up(self, rec: Record) -> bytes:
        """Seal ``rec`` under this rogue's channel and send it; returns the bytes (to replay)."""
        assert self.channel is not None
        box = self.channel.seal_up(rec)
        self.send_channel(box)
        return box

    def seal_plain(self, plain: Any, mid: str | None = None) -> bytes:
        """A valid, numbered box around any plain data (bad inner records), as the minion's
        channel would seal it; ``mid`` puts another id in the outer record (same key)."""
        assert self.channel is not None
        ch = self.channel
        c = ch._sent
        ch._sent += 1
        ct = ch._aead.seal_with(_UP_NONCE + struct.pack(">Q", c), pack(plain), ch._up)
        return Sealed(self.mid if mid is None else mid, c, ct).encode()

    def send_plain(self, plain: Any) -> bytes:
        box = self.seal_plain(plain)
        self.send_channel(box)
        return box

    def _read_channel(self, timeout: float) -> bool:
        """Read one frame off the channel into ``downs`` or ``pubs``: False after ``timeout``
        (a ``reauth`` is read and dropped: the tests that care look at the session instead)."""
        if self.chan is None or not self.chan.poll(max(0, int(timeout * 1000))):
            return False
        msg = decode(self.chan.recv(), MINION_CHANNEL_KINDS)
        if msg["k"] == Sealed.KIND:
            self.downs.append(Sealed.from_map(msg))
        elif msg["k"] == Publication.KIND:
            self.pubs.append(Publication.from_map(msg))
        return True

    def recv_down(self, timeout: float = 1.0) -> Record | None:
        """The next box from the master, opened (None after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while not self.downs and self._read_channel(deadline - time.monotonic()):
            pass
        if not self.downs or self.channel is None:
            return None
        return self.channel.open_down(self.downs.pop(0), 64 * 1024 * 1024)

    def answer(self, req: Record, kind: type[R], timeout: float = 5.0) -> R:
        """Send ``req`` (a request with a ``rid``: files, pillar, mine) and wait for its answer."""
        self.send_up(req)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rec = self.recv_down(0.5)
            if isinstance(rec, kind) and getattr(rec, "rid", None) == getattr(req, "rid", None):
                return rec
        raise AssertionError(f"no answer to {req}")

    def drain_down(self, seconds: float) -> list[Record]:
        out: list[Record] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            rec = self.recv_down(max(0.0, deadline - time.monotonic()))
            if rec is not None:
                out.append(rec)
        return out

    def recv_pub(self, timeout: float = 1.0) -> Publication | None:
        """The next publication down the channel (None after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while not self.pubs and self._read_channel(deadline - time.monotonic()):
            pass
        return self.pubs.pop(0) if self.pubs else None

    def return_for(self, jid: str, data: Any) -> bytes:
        return self.send_up(Ret(jid, ReturnRec(True, data)))

    def fire(self, tag: str, data: dict[str, Any]) -> bytes:
        return self.send_up(EventMsg(tag, data))

    @property
    def session(self) -> Aead:
        assert self.grant is not None
        return Aead(self.grant.session_key)

    def close(self) -> None:
        self.enrol.close()
        if self.chan is not None:
            self.chan.close(0)


class RawZmtp:
    """A ZMTP 3.0 peer by hand (NULL mechanism, DEALER): frames exactly as the test writes them.

    Only for ports that speak ZMTP (the enrolment port is raw TCP: use :class:`EnrolStream`);
    against a CURVE port the handshake is refused (ConnectionError), which is the point."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.sendall(b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00") + b"\x00" * 32)
        greeting = self._read(64)
        if greeting[:1] != b"\xff" or greeting[10:11] != b"\x03":
            raise ConnectionError("not a ZMTP 3 peer")
        name, value = b"Socket-Type", b"DEALER"
        body = b"\x05READY" + bytes([len(name)]) + name + struct.pack(">I", len(value)) + value
        self.sock.sendall(b"\x04" + bytes([len(body)]) + body)
        flags, size = self._read(2)  # the peer's READY: its ZAP check is done, frames go through
        self._read(size if flags == 0x04 else struct.unpack(">Q", bytes([size]) + self._read(7))[0])

    def _read(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("peer closed")
            out += chunk
        return out

    @staticmethod
    def frame(body: bytes, more: bool = False, declared: int | None = None) -> bytes:
        """One frame's bytes; ``declared`` lies about the length (to leave a frame unfinished)."""
        size = len(body) if declared is None else declared
        flags = 0x01 if more else 0x00
        if size < 256:
            return bytes([flags]) + bytes([size]) + body
        return bytes([flags | 0x02]) + struct.pack(">Q", size) + body

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class ChannelTap:
    """Stands in for the master on one minion's channel: forwards both ways, records what the
    master sends down (:attr:`seen`, one frame per message) and injects frames of its own.

    Towards the minion it is a CURVE server with the master's key; towards the master a CURVE
    client with the tapped minion's key, so the master sees that minion's own connection. The
    upstream connection opens at the minion's first frame: the master admits the key only once
    the minion has authenticated, and refuses a handshake for good (libzmq does not retry)."""

    def __init__(self, master_dir: Path, master_channel_port: int, listen_port: int,
                 upstream_keys: tuple[bytes, bytes]) -> None:
        ctx: zmq.Context = zmq.Context.instance()
        secret, public = master_curve(master_dir)
        self.upstream_addr = f"tcp://{HOST}:{master_channel_port}"
        self.upstream = curve_socket(zmq.DEALER, public, upstream_keys)
        self.upstream.setsockopt(zmq.RCVHWM, 100_000)
        self.down = ctx.socket(zmq.ROUTER)  # the minion reconnects after a restart: send to the latest
        self.down.setsockopt(zmq.LINGER, 0)
        self.down.setsockopt(zmq.CURVE_SERVER, 1)
        self.down.setsockopt(zmq.CURVE_SECRETKEY, secret)
        self.down.bind(f"tcp://{HOST}:{listen_port}")
        self.inject_in = ctx.socket(zmq.PULL)
        self.inject_in.bind(f"inproc://channeltap-{id(self)}")
        self.inject_out = ctx.socket(zmq.PUSH)
        self.inject_out.connect(f"inproc://channeltap-{id(self)}")
        self.seen: list[bytes] = []
        self.peer = b""  # the routing id of the minion's latest connection
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        poller = zmq.Poller()
        for sock in (self.upstream, self.inject_in, self.down):
            poller.register(sock, zmq.POLLIN)
        while not self._stop.is_set():
            for sock, _ in poller.poll(100):
                frames = sock.recv_multipart()
                if sock is self.down:  # the minion's, up to the master
                    if not self.peer:
                        self.upstream.connect(self.upstream_addr)
                    self.peer = frames[0]
                    self.upstream.send_multipart(frames[1:])
                    continue
                if sock is self.upstream:
                    self.seen += frames
                if self.peer:
                    self.down.send_multipart([self.peer, *frames])

    def publications(self, since: int = 0) -> list[Publication]:
        """The publications among the frames the master sent down since ``seen[since]``."""
        msgs = [decode(f, MINION_CHANNEL_KINDS) for f in self.seen[since:]]
        return [Publication.from_map(m) for m in msgs if m["k"] == Publication.KIND]

    def inject(self, frame: bytes) -> None:
        """``frame`` down to the minion, as if the master had sent it."""
        self.inject_out.send(frame)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in (self.upstream, self.down, self.inject_in, self.inject_out):
            sock.close(0)


def rss_mib(pid: int) -> float:
    """Resident set size of ``pid`` in MiB, from /proc (no psutil needed)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ProcessLookupError(pid)
