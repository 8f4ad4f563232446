"""The minion process's I/O loop over ZeroMQ sockets: a turn costs O(sockets with news), not
O(sockets).

``zmq.Poller`` (``zmq_poll``) walks every registered socket on every call. A swarm process that
drives 2,500 identities (3-4 sockets each) spent 20-60 ms of CPU per turn just polling, ten
turns a second and more under load — the benchmark's swarm, not the master, set the pace. Here
each socket's ``ZMQ_FD`` (its mailbox signal) is registered with epoll once, and only sockets
whose signal fired are looked at.

That fd only says "look at ``ZMQ_EVENTS``", and any operation on a socket — a send — may
consume the signal of a message that arrived meanwhile. So a socket sent on (:meth:`send`),
or one whose owner stopped reading short of its last message (:meth:`Owner.on_readable` says
so), is checked again through ``ZMQ_EVENTS`` before the loop sleeps; a newly registered socket
is checked at once. Only those sockets: re-checking every socket of an owner that did anything
(a minion's channel, monitor and enrolment sockets after each job) was a fifth of a
750-identity swarm's time during a ping, each check a call into libzmq.

Sends wait for the end of the turn (:meth:`send`). A send to a connection whose libzmq I/O
thread is asleep wakes that thread (an eventfd write, a wake-up on the other core): a swarm
process answering a ping sends once per identity, with ~0.5 ms of work between two sends, so
the I/O thread went back to sleep each time and was woken 2,500 times per process and ping. Sent
together, one wake-up serves most of them (on a 2-core VM, 2.2 against 10-40 us per send in
wall time, and ~30-90 us of CPU less).

Example::

    loop = SocketLoop()
    loop.add_fd(runner.fd, runner.run_pending)
    loop.register(sock, core)        # core.on_readable(sock) when sock has messages
    loop.send(sock, data)            # at the end of this turn, with the other sends
    loop.close_later(sock)           # unregistered now, closed at the end of this turn
    while running:
        loop.poll(100)
"""

from __future__ import annotations

import logging
import select
from collections.abc import Callable
from typing import Protocol

import zmq

log = logging.getLogger(__name__)
# a plain int: ``&`` with pyzmq's enum.Flag builds a new Flag each time (~2 us, twice a message)
POLLIN = int(zmq.POLLIN)
ROUNDS = 8  # re-checks of busy owners per turn; what is left waits for the next turn


def has_message(sock: zmq.Socket) -> bool:
    """Whether ``sock`` holds a message now (``ZMQ_EVENTS``; it also takes the socket's signal)."""
    return bool(int(sock.getsockopt(zmq.EVENTS)) & POLLIN)  # type: ignore[arg-type]  # an int option


class Owner(Protocol):
    def on_readable(self, sock: zmq.Socket) -> bool:
        """Read what ``sock`` holds; True if it holds nothing more, False if it stopped short."""


class SocketLoop:
    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._by_fd: dict[int, zmq.Socket] = {}
        self._owner: dict[zmq.Socket, tuple[Owner, int]] = {}  # socket -> (owner, its fd)
        self._fds: dict[int, Callable[[], None]] = {}  # plain fds (an eventfd) and their handlers
        self._recheck: set[zmq.Socket] = set()  # to look at through ZMQ_EVENTS before sleeping
        self._outbox: list[tuple[zmq.Socket, bytes]] = []  # sent at the end of the turn, in order
        self._closing: list[zmq.Socket] = []  # closed at the end of the turn, after the sends

    def add_fd(self, fd: int, handler: Callable[[], None]) -> None:
        """A plain file descriptor (e.g. the job runner's eventfd): ``handler()`` when readable."""
        self._epoll.register(fd, select.EPOLLIN)
        self._fds[fd] = handler

    def register(self, sock: zmq.Socket, owner: Owner) -> None:
        fd = int(sock.getsockopt(zmq.FD))  # type: ignore[arg-type]  # an int option
        self._epoll.register(fd, select.EPOLLIN)
        self._by_fd[fd] = sock
        self._owner[sock] = (owner, fd)
        self._recheck.add(sock)  # it may hold messages already: its signal may have fired before

    def unregister(self, sock: zmq.Socket) -> None:
        """Before the socket closes (its fd number may then be reused)."""
        entry = self._owner.pop(sock, None)
        if entry is None:
            return
        self._by_fd.pop(entry[1], None)
        self._recheck.discard(sock)
        try:
            self._epoll.unregister(entry[1])
        except OSError:
            pass

    def send(self, sock: zmq.Socket, data: bytes) -> None:
        """Send ``data`` on ``sock`` at the end of this turn's handling (or before the next wait,
        when called between turns), after what was queued before it. Dropped if the socket was
        unregistered meanwhile or its queue is full: callers resend what must arrive."""
        self._outbox.append((sock, data))

    def close_later(self, sock: zmq.Socket) -> None:
        """Unregister ``sock`` now (nothing more is read from it, its queued sends are dropped)
        and close it at the end of this turn, with the others (LINGER 0)."""
        self.unregister(sock)
        self._closing.append(sock)

    def flush(self) -> None:
        """Send what was queued, then close what was retired, now (the turn does it; a process
        that stops does it itself)."""
        out, self._outbox = self._outbox, []
        for sock, data in out:
            if sock.closed or sock not in self._owner:
                continue
            try:
                sock.send(data, zmq.NOBLOCK)
            except zmq.Again:
                log.debug("a socket's send queue is full: a message dropped")
            self._recheck.add(sock)  # the send may have eaten the signal of a message that came
        closing, self._closing = self._closing, []
        for sock in closing:
            sock.close(0)

    def poll(self, timeout_ms: int) -> None:
        """Send what was queued, wait up to ``timeout_ms`` (not at all while sockets are left to
        check), then serve what is readable."""
        self.flush()
        ready = self._epoll.poll(0 if self._recheck else timeout_ms / 1000)
        check, self._recheck = self._recheck, set()
        for fd, _ in ready:
            handler = self._fds.get(fd)
            if handler is not None:
                handler()
            elif (sock := self._by_fd.get(fd)) is not None:
                check.add(sock)
        for _ in range(ROUNDS):
            for sock in check:
                entry = self._owner.get(sock)  # a handler earlier in this round may have closed it
                if (entry is not None and not sock.closed and has_message(sock)
                        and not entry[0].on_readable(sock)):
                    self._recheck.add(sock)  # it stopped short of the last message
            self.flush()
            check, self._recheck = self._recheck, set()
            if not check:
                return
        self._recheck = check  # what is left waits for the next turn

    def close(self) -> None:
        self.flush()
        self._epoll.close()
