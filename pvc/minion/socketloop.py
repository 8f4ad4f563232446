"""The minion process's I/O loop over ZeroMQ sockets: a turn costs O(sockets with news), not
O(sockets).

``zmq.Poller`` (``zmq_poll``) walks every registered socket on every call. A swarm process that
drives 2,500 identities (3-4 sockets each) spent 20-60 ms of CPU per turn just polling, ten
turns a second and more under load — the benchmark's swarm, not the master, set the pace. Here
each socket's ``ZMQ_FD`` (its mailbox signal) is registered with epoll once, and only sockets
whose signal fired are looked at.

That fd only says "look at ``ZMQ_EVENTS``", and any operation on the socket — a send — may
consume the signal of a message that arrived meanwhile. So every socket of an owner that did
anything this turn (read a message, or sent one: :meth:`touched`) is checked again through
``ZMQ_EVENTS`` before the loop sleeps; a newly registered socket is checked at once.

Example::

    loop = SocketLoop()
    loop.add_fd(runner.fd, runner.run_pending)
    loop.register(sock, core)        # core.on_readable(sock) when sock has messages
    while running:
        loop.poll(100)
"""

from __future__ import annotations

import select
from collections.abc import Callable
from typing import Protocol

import zmq

ROUNDS = 8  # re-checks of busy owners per turn; what is left waits for the next turn


class Owner(Protocol):
    def on_readable(self, sock: zmq.Socket) -> None: ...


class SocketLoop:
    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._by_fd: dict[int, zmq.Socket] = {}
        self._owner: dict[zmq.Socket, tuple[Owner, int]] = {}  # socket -> (owner, its fd)
        self._socks: dict[Owner, list[zmq.Socket]] = {}
        self._fds: dict[int, Callable[[], None]] = {}  # plain fds (an eventfd) and their handlers
        self._dirty: set[Owner] = set()

    def add_fd(self, fd: int, handler: Callable[[], None]) -> None:
        """A plain file descriptor (e.g. the job runner's eventfd): ``handler()`` when readable."""
        self._epoll.register(fd, select.EPOLLIN)
        self._fds[fd] = handler

    def register(self, sock: zmq.Socket, owner: Owner) -> None:
        fd = int(sock.getsockopt(zmq.FD))  # type: ignore[arg-type]  # an int option
        self._epoll.register(fd, select.EPOLLIN)
        self._by_fd[fd] = sock
        self._owner[sock] = (owner, fd)
        self._socks.setdefault(owner, []).append(sock)
        self._dirty.add(owner)  # it may hold messages already: its signal may have fired before

    def unregister(self, sock: zmq.Socket) -> None:
        """Before the socket closes (its fd number may then be reused)."""
        entry = self._owner.pop(sock, None)
        if entry is None:
            return
        owner, fd = entry
        self._by_fd.pop(fd, None)
        try:
            self._epoll.unregister(fd)
        except OSError:
            pass
        socks = self._socks[owner]
        socks.remove(sock)
        if not socks:
            del self._socks[owner]
            self._dirty.discard(owner)

    def touched(self, owner: Owner) -> None:
        """``owner`` sent on its sockets: check them before sleeping (the send may have eaten a signal)."""
        self._dirty.add(owner)

    def poll(self, timeout_ms: int) -> None:
        """Wait up to ``timeout_ms`` (not at all while owners are left to check), then serve
        what is readable."""
        ready = self._epoll.poll(0 if self._dirty else timeout_ms / 1000)
        check: set[zmq.Socket] = set()
        for fd, _ in ready:
            handler = self._fds.get(fd)
            if handler is not None:
                handler()
            elif (sock := self._by_fd.get(fd)) is not None:
                check.add(sock)
        for _ in range(ROUNDS):
            dirty, self._dirty = self._dirty, set()
            for owner in dirty:
                check.update(self._socks.get(owner, ()))
            if not check:
                return
            for sock in check:
                entry = self._owner.get(sock)  # a handler earlier in this round may have closed it
                if entry is not None and not sock.closed and int(sock.getsockopt(zmq.EVENTS)) & zmq.POLLIN:  # type: ignore[arg-type]
                    entry[0].on_readable(sock)
                    self._dirty.add(entry[0])
            check = set()

    def close(self) -> None:
        self._epoll.close()
