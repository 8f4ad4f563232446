"""pvc.minion.socketloop: epoll over ZeroMQ sockets, O(ready) per turn, and never a message
left unread because a send took its signal."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
import zmq

from pvc.minion.socketloop import SocketLoop


class Owner:
    def __init__(self) -> None:
        self.got: list[list[bytes]] = []
        self.calls = 0

    def on_readable(self, sock: zmq.Socket) -> bool:
        self.calls += 1
        while True:
            try:
                self.got.append(sock.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                return True


@pytest.fixture
def pair() -> Iterator[tuple[zmq.Socket, zmq.Socket, SocketLoop]]:
    ctx = zmq.Context()
    server, client = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
    for s in (server, client):
        s.setsockopt(zmq.LINGER, 0)
    port = server.bind_to_random_port("tcp://127.0.0.1")
    client.connect(f"tcp://127.0.0.1:{port}")
    loop = SocketLoop()
    yield server, client, loop
    loop.close()
    server.close(0)
    client.close(0)
    ctx.term()


def _peer(server: zmq.Socket, client: zmq.Socket) -> bytes:
    client.send(b"hi")
    assert server.poll(5000)
    return server.recv_multipart()[0]


def _registered(pair: tuple[zmq.Socket, zmq.Socket, SocketLoop], owner: Owner) -> bytes:
    """The client registered for ``owner`` after a first turn; returns its peer id on the server."""
    server, client, loop = pair
    peer = _peer(server, client)
    loop.register(client, owner)
    loop.poll(0)
    return peer


def serve_until(loop: SocketLoop, done, seconds: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        loop.poll(50)


def test_a_message_wakes_its_owner(pair: tuple[zmq.Socket, zmq.Socket, SocketLoop]) -> None:
    server, client, loop = pair
    owner = Owner()
    peer = _peer(server, client)
    loop.register(client, owner)
    server.send_multipart([peer, b"one"])
    serve_until(loop, lambda: owner.got)
    assert owner.got == [[b"one"]]


def test_a_send_that_takes_the_signal_does_not_strand_the_message(
        pair: tuple[zmq.Socket, zmq.Socket, SocketLoop]) -> None:
    """The message arrives, then the owner sends on the same socket before the loop looks:
    libzmq's send processes the socket's commands and reads its fd, so epoll never fires.
    A socket sent on through :meth:`SocketLoop.send` is checked through ZMQ_EVENTS anyway."""
    server, client, loop = pair
    owner = Owner()
    peer = _registered(pair, owner)
    for n in range(5):
        server.send_multipart([peer, b"job%d" % n])
        time.sleep(0.05)  # delivered: the client's fd is readable ...
        loop.send(client, b"heartbeat")  # ... and this send, at the next turn, eats the signal
        deadline = time.monotonic() + 2.0
        while len(owner.got) <= n and time.monotonic() < deadline:
            loop.poll(50)
        assert owner.got[-1] == [b"job%d" % n]
        assert server.poll(2000) and server.recv_multipart() == [peer, b"heartbeat"]


class Answerer(Owner):
    """Answers every message through the loop, and notes whether the answer had left by then."""

    def __init__(self, loop: SocketLoop, server: zmq.Socket) -> None:
        super().__init__()
        self.loop, self.server, self.early = loop, server, 0

    def on_readable(self, sock: zmq.Socket) -> bool:
        done = super().on_readable(sock)
        for frames in self.got[-1:]:
            self.loop.send(sock, b"re:" + frames[0])
            self.loop.send(sock, b"and:" + frames[0])
            self.early += self.server.poll(20)  # not sent while the turn's handlers run
        return done


def test_sends_leave_at_the_end_of_the_turn_in_order(pair: tuple[zmq.Socket, zmq.Socket, SocketLoop]) -> None:
    """Sends wait until the turn's handlers ran (one wake-up of libzmq's I/O thread for all),
    then leave in the order they were made."""
    server, _, loop = pair
    owner = Answerer(loop, server)
    peer = _registered(pair, owner)
    server.send_multipart([peer, b"ping"])
    serve_until(loop, lambda: owner.got)
    assert owner.early == 0
    got = [server.recv_multipart()[1] for _ in range(2) if server.poll(2000)]
    assert got == [b"re:ping", b"and:ping"]


def test_a_send_queued_between_turns_leaves_before_the_wait(
        pair: tuple[zmq.Socket, zmq.Socket, SocketLoop]) -> None:
    """A timer's send (a heartbeat) made between two turns does not wait for the next message."""
    server, client, loop = pair
    peer = _registered(pair, Owner())
    loop.send(client, b"beat")
    loop.poll(1000)  # nothing to read: it sends first
    assert server.poll(1000) and server.recv_multipart() == [peer, b"beat"]


def test_a_send_for_a_gone_socket_or_a_full_queue_is_dropped(
        pair: tuple[zmq.Socket, zmq.Socket, SocketLoop]) -> None:
    server, client, loop = pair
    owner = Owner()
    _registered(pair, owner)
    loop.send(client, b"lost")
    loop.unregister(client)  # its core dropped the connection before the turn ended
    loop.poll(0)
    assert not server.poll(200)
    ctx = zmq.Context.instance()
    lone = ctx.socket(zmq.DEALER)  # never connected: its queue holds nothing, a send would block
    lone.setsockopt(zmq.LINGER, 0)
    lone.setsockopt(zmq.SNDHWM, 1)
    lone.connect("tcp://127.0.0.1:9")  # nothing listens: no pipe until it connects
    loop.register(lone, owner)
    for n in range(3):
        loop.send(lone, b"x%d" % n)
    loop.poll(0)  # zmq.Again inside: dropped, not raised
    loop.unregister(lone)
    lone.close(0)


def test_closes_wait_for_the_end_of_the_turn_after_the_sends(
        pair: tuple[zmq.Socket, zmq.Socket, SocketLoop]) -> None:
    """A retired socket is read no more at once; it is closed with the turn's other closes
    (one wake-up of libzmq's reaper), after its own queued sends were dropped."""
    server, client, loop = pair
    owner = Owner()
    peer = _registered(pair, owner)
    loop.send(client, b"dropped")
    loop.close_later(client)
    server.send_multipart([peer, b"unread"])
    time.sleep(0.05)
    assert not client.closed
    loop.poll(0)
    assert client.closed and owner.got == [] and not server.poll(200)


def test_a_socket_registered_with_messages_waiting_is_served(
        pair: tuple[zmq.Socket, zmq.Socket, SocketLoop]) -> None:
    server, client, loop = pair
    peer = _peer(server, client)
    server.send_multipart([peer, b"early"])
    time.sleep(0.05)
    client.getsockopt(zmq.EVENTS)  # the signal is gone before the loop knows the socket
    owner = Owner()
    loop.register(client, owner)
    loop.poll(0)
    assert owner.got == [[b"early"]]


def test_unregistered_sockets_and_idle_turns(pair: tuple[zmq.Socket, zmq.Socket, SocketLoop]) -> None:
    server, client, loop = pair
    owner = Owner()
    peer = _peer(server, client)
    loop.register(client, owner)
    loop.poll(0)
    loop.unregister(client)
    loop.unregister(client)  # twice: harmless
    server.send_multipart([peer, b"x"])
    time.sleep(0.05)
    t0 = time.monotonic()
    loop.poll(100)
    assert owner.got == [] and time.monotonic() - t0 >= 0.09  # slept: nothing of its own to do


def test_plain_fds_call_their_handler(pair: tuple[zmq.Socket, zmq.Socket, SocketLoop]) -> None:
    _, _, loop = pair
    fd = os.eventfd(0, os.EFD_NONBLOCK)
    seen: list[int] = []
    loop.add_fd(fd, lambda: seen.append(os.eventfd_read(fd)))
    os.eventfd_write(fd, 3)
    loop.poll(100)
    os.close(fd)
    assert seen == [3]


def test_a_turn_costs_the_ready_sockets_not_all_of_them() -> None:
    """5,000 idle sockets: an empty turn takes well under a millisecond (zmq.Poller: tens)."""
    ctx = zmq.Context()
    ctx.max_sockets = 6000
    socks = [ctx.socket(zmq.DEALER) for _ in range(5000)]
    loop = SocketLoop()
    owner = Owner()
    for s in socks:
        loop.register(s, owner)
    loop.poll(0)  # the first turn checks the new sockets once
    t0 = time.perf_counter()
    for _ in range(100):
        loop.poll(0)
    per_turn = (time.perf_counter() - t0) / 100
    loop.close()
    for s in socks:
        s.close(0)
    ctx.term()
    assert per_turn < 0.005, f"{per_turn * 1000:.2f} ms per idle turn"


class OneAtATime(Owner):
    """Reads one message per call and says whether the socket holds more (an owner's bound)."""

    def on_readable(self, sock: zmq.Socket) -> bool:
        self.calls += 1
        self.got.append(sock.recv_multipart(zmq.NOBLOCK))
        return not int(sock.getsockopt(zmq.EVENTS)) & zmq.POLLIN  # type: ignore[arg-type]


def test_an_owner_that_stops_short_is_served_again_without_a_new_signal(
        pair: tuple[zmq.Socket, zmq.Socket, SocketLoop]) -> None:
    server, _client, loop = pair
    owner = OneAtATime()
    peer = _registered(pair, owner)
    for n in range(20):
        server.send_multipart([peer, b"m%d" % n])
    time.sleep(0.2)  # all there before the loop looks: one signal for the lot
    serve_until(loop, lambda: len(owner.got) == 20)
    assert [m[0] for m in owner.got] == [b"m%d" % n for n in range(20)]
