"""The master's job observers: the event bus, and the clients waiting for a job's returns."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from pvc import events
from pvc.results import Return
from pvc.wire.inner import ReturnRec
from pvc.wire.local import Done, RetReply


class BusObserver:
    """Every job transition as an event on the bus (``pvc/job/<jid>/new``, ``.../ret/<id>``)."""

    def __init__(self, fire: Callable[[str, dict], None]) -> None:
        self.fire = fire

    def job_published(self, jid: str, fun: str, tgt: str, tgt_type: str, minions: Sequence[str]) -> None:
        self.fire(events.job_new(jid), {"fun": fun, "tgt": tgt, "tgt_type": tgt_type, "minions": list(minions)})

    def job_returned(self, jid: str, mid: str, ret: Return) -> None:
        self.fire(events.job_ret(jid, mid), {"id": mid, **ReturnRec.of(ret).to_map()})

    def job_finished(self, jid: str, missing: Mapping[str, str]) -> None:
        """The bus has no "done" event (the job's returns and ``pvc job show`` say it all)."""


class ClientStreams:
    """Clients that asked to follow a job get its returns, then ``done`` with who is missing."""

    def __init__(self, send: Callable[[bytes, bytes], None]) -> None:
        self.send = send
        self.watchers: dict[str, set[bytes]] = {}

    def watch(self, jid: str, peer: bytes) -> None:
        self.watchers.setdefault(jid, set()).add(peer)

    def job_published(self, jid: str, fun: str, tgt: str, tgt_type: str, minions: Sequence[str]) -> None:
        """Nothing to send: the publisher already has its ``published`` reply."""

    def job_returned(self, jid: str, mid: str, ret: Return) -> None:
        peers = self.watchers.get(jid)
        if peers:
            msg = RetReply(jid, mid, ReturnRec.of(ret)).encode()
            for peer in peers:
                self.send(peer, msg)

    def job_finished(self, jid: str, missing: Mapping[str, str]) -> None:
        peers = self.watchers.pop(jid, ())
        if peers:
            msg = Done(jid, dict(missing)).encode()
            for peer in peers:
                self.send(peer, msg)
