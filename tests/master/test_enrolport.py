"""pvc.master.enrolport: the enrolment port on a real ZeroMQ STREAM socket on 127.0.0.1, with
plain Python TCP clients: frames reassembled across TCP writes, replies framed, connections
bounded per address and in total, new ones rate-limited, idle ones and violators closed."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable, Iterator

import pytest
import zmq

import pvc.master.enrolport as ep_mod
from pvc.errors import AuthError, InvalidMinionId, ProtocolError
from pvc.master.enrolport import EnrolmentPort
from pvc.wire.stream import Deframer, frame

PORTS: list[Port] = []


class Port:
    """An EnrolmentPort on its own STREAM socket; ``handle`` records (conn, payload) and may
    raise what ``raises`` maps a payload to."""

    def __init__(self, address_rate: float = 1000.0) -> None:
        PORTS.append(self)
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.STREAM)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.got: list[tuple[bytes, bytes]] = []
        self.raises: dict[bytes, Exception] = {}
        self.ep = EnrolmentPort(self.sock, 4096, address_rate, self._handle)
        self.clients: list[socket.socket] = []

    def _handle(self, conn: bytes, payload: bytes) -> None:
        self.got.append((conn, payload))
        if payload in self.raises:
            raise self.raises[payload]

    def pump(self, until: Callable[[], bool] = lambda: False, seconds: float = 1.0) -> None:
        """Read the socket as the master's loop does until ``until()`` or ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.sock.poll(10):
                for _ in range(256):
                    try:
                        frames = self.sock.recv_multipart(zmq.NOBLOCK, copy=False)
                    except zmq.Again:
                        break
                    self.ep.on_frames(frames)
            if until():
                return

    def connect(self) -> socket.socket:
        c = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        self.clients.append(c)
        return c

    def connected(self, n: int) -> list[socket.socket]:
        """``n`` new clients, once the port has seen them all open."""
        before = self.ep.refused + len(self.ep.conns)
        clients = [self.connect() for _ in range(n)]
        self.pump(lambda: self.ep.refused + len(self.ep.conns) >= before + n, 3.0)
        return clients

    def close(self) -> None:
        PORTS.remove(self)
        for c in self.clients:
            c.close()
        self.sock.close(0)
        self.ctx.term()


def closed_by_peer(c: socket.socket, timeout: float = 2.0) -> bool:
    """Whether the port closes ``c`` within ``timeout``. The port is pumped meanwhile: libzmq
    finishes closing a STREAM connection when the socket is next used (the master's loop polls
    it at least every 100 ms)."""
    port = PORTS[-1]
    c.settimeout(0.01)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        port.pump(seconds=0.01)
        try:
            if not c.recv(65536):
                return True
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True
    return False


@pytest.fixture
def port() -> Iterator[Port]:
    p = Port()
    yield p
    p.close()


def test_a_connection_is_counted_under_its_address(port: Port) -> None:
    port.connected(2)
    assert len(port.ep.conns) == 2 and port.ep.per_address == {"127.0.0.1": 2}
    assert {c.address for c in port.ep.conns.values()} == {"127.0.0.1"}


def test_frames_split_across_tcp_writes_reassembled(port: Port) -> None:
    [c] = port.connected(1)
    data = frame(b"first") + frame(b"x" * 4096) + frame(b"")
    for i in range(0, len(data), 7):
        c.sendall(data[i:i + 7])
        time.sleep(0.0005)
    port.pump(lambda: len(port.got) == 3, 3.0)
    assert [p for _, p in port.got] == [b"first", b"x" * 4096, b""]
    assert len({conn for conn, _ in port.got}) == 1


def test_many_frames_in_one_write(port: Port) -> None:
    [c] = port.connected(1)
    c.sendall(b"".join(frame(b"%d" % n) for n in range(50)))
    port.pump(lambda: len(port.got) == 50, 3.0)
    assert [p for _, p in port.got] == [b"%d" % n for n in range(50)]


def test_replies_are_framed_to_the_right_connection(port: Port) -> None:
    a, b = port.connected(2)
    a.sendall(frame(b"from a"))
    port.pump(lambda: len(port.got) == 1)
    conn_a = port.got[0][0]
    port.ep.send(conn_a, b"to a")
    a.settimeout(2)
    assert Deframer(4096).feed(a.recv(100)) == [b"to a"]
    b.settimeout(0.2)
    with pytest.raises(TimeoutError):
        b.recv(100)
    port.ep.send(b"\x00nope", b"x")  # an unknown (or closed) connection: nothing happens


@pytest.mark.parametrize("exc", [ProtocolError("garbage"), AuthError("bad challenge"), InvalidMinionId("../x")])
def test_a_violation_closes_the_connection(port: Port, exc: Exception) -> None:
    bad, good = port.connected(2)
    port.raises[b"bad"] = exc
    bad.sendall(frame(b"bad") + frame(b"after"))
    port.pump(lambda: port.ep.refused == 1)
    assert closed_by_peer(bad)
    assert [p for _, p in port.got] == [b"bad"], "nothing after the violation is handled"
    assert len(port.ep.conns) == 1 and port.ep.per_address == {"127.0.0.1": 1}
    good.sendall(frame(b"still here"))
    port.pump(lambda: len(port.got) == 2)
    assert port.got[-1][1] == b"still here" and not closed_by_peer(good, 0.2)


def test_a_frame_too_long_closes_before_its_body(port: Port) -> None:
    [c] = port.connected(1)
    c.sendall(struct.pack(">I", 4097))  # the header alone
    port.pump(lambda: port.ep.refused == 1)
    assert port.ep.refused == 1 and not port.ep.conns and closed_by_peer(c)
    assert port.got == []


def test_an_endless_stream_is_cut_at_the_first_frame(port: Port) -> None:
    [c] = port.connected(1)
    c.sendall(b"\x7f" * 65536)  # a declared length of 2 GiB, and more bytes behind it
    port.pump(lambda: port.ep.refused == 1)
    assert closed_by_peer(c) and not port.ep.conns and port.got == []


def test_per_address_cap(port: Port, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ep_mod, "MAX_PER_ADDRESS", 4)
    clients = port.connected(6)
    assert len(port.ep.conns) == 4 and port.ep.per_address == {"127.0.0.1": 4} and port.ep.refused == 2
    assert closed_by_peer(clients[4]) and closed_by_peer(clients[5])
    assert not closed_by_peer(clients[0], 0.1)
    clients[0].close()  # one leaves: room for one more
    port.pump(lambda: len(port.ep.conns) == 3)
    assert port.ep.per_address == {"127.0.0.1": 3}
    [again] = port.connected(1)
    assert len(port.ep.conns) == 4 and not closed_by_peer(again, 0.1)


def test_total_cap(port: Port, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ep_mod, "MAX_CONNECTIONS", 3)
    clients = port.connected(5)
    assert len(port.ep.conns) == 3 and port.ep.refused == 2
    assert [closed_by_peer(c, 0.3) for c in clients] == [False, False, False, True, True]


def test_new_connections_rate_limited_per_address() -> None:
    port = Port(address_rate=2.0)  # a burst of 4, then 2 a second
    try:
        clients = port.connected(6)
        assert len(port.ep.conns) == 4 and port.ep.refused == 2
        assert sum(closed_by_peer(c, 0.3) for c in clients) == 2
        time.sleep(0.6)
        port.connected(1)
        assert len(port.ep.conns) == 5
    finally:
        port.close()


def test_connections_closed_after_their_lifetime_busy_or_not(port: Port) -> None:
    """An honest exchange takes milliseconds: a connection still open after LIFETIME is closed,
    even one that keeps talking (a hello every few seconds keeps no slot forever)."""
    idle, busy = port.connected(2)
    t0 = time.monotonic()
    busy.sendall(frame(b"hello"))
    port.pump(lambda: len(port.got) == 1)
    port.ep.sweep(t0 + 0.5)  # too early, and at most once a second anyway
    assert len(port.ep.conns) == 2
    port.ep.sweep(t0 + ep_mod.LIFETIME + 1)
    assert not port.ep.conns and port.ep.per_address == {}
    assert closed_by_peer(idle) and closed_by_peer(busy)


def test_a_partial_frame_does_not_count_as_activity(port: Port) -> None:
    """A slow-loris trickling bytes of a frame it never finishes is still idle."""
    [c] = port.connected(1)
    t0 = time.monotonic()
    c.sendall(frame(b"x" * 100)[:50])
    port.pump(seconds=0.2)
    assert port.got == [] and len(port.ep.conns) == 1
    port.ep.sweep(t0 + ep_mod.LIFETIME + 1)
    assert not port.ep.conns and closed_by_peer(c)


def test_a_connection_closed_by_the_peer_is_forgotten(port: Port) -> None:
    a, _ = port.connected(2)
    a.close()
    port.pump(lambda: len(port.ep.conns) == 1)
    assert len(port.ep.conns) == 1 and port.ep.per_address == {"127.0.0.1": 1}


def test_violators_that_hang_up_leave_nothing_behind(port: Port) -> None:
    port.raises[b"bad"] = ProtocolError("garbage")
    for _ in range(50):
        c = port.connect()
        c.sendall(frame(b"bad"))
        c.close()
    port.pump(lambda: port.ep.refused >= 50, 3.0)
    port.pump(seconds=0.3)
    assert port.ep.refused >= 50
    assert not port.ep.conns and not port.ep.per_address
