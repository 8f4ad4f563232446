"""What the master does with each kind of box a minion sends: a table, not a ladder.

Every body was decoded into its typed record (:mod:`pvc.wire.inner`) before it gets here.
Events are checked against :func:`pvc.events.minion_may_fire`: a minion speaks only about
itself and the VMs it reports holding; the master stamps the sender into the data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from pvc import events
from pvc.master.returns import Returns
from pvc.master.sessions import Session
from pvc.wire.inner import Bye, EventMsg, Grains, Heartbeat, Lost, Pong, Ret
from pvc.wire.record import Record

log = logging.getLogger(__name__)


class Inbox:
    def __init__(self, returns: Returns, grains: dict[str, dict[str, Any]],
                 reply: Callable[[Session, Record], None], fire: Callable[[str, dict], None],
                 end_session: Callable[[str, str], None]) -> None:
        self.returns = returns
        self.grains = grains
        self.reply = reply
        self.fire = fire
        self.end_session = end_session
        self.refused_events = 0
        self.table: dict[type[Record], Callable[[str, Session, Any], None]] = {
            Ret: lambda mid, s, body: returns.on_return(mid, body),
            Lost: lambda mid, s, body: returns.on_lost(mid, body),
            Heartbeat: self._heartbeat,
            EventMsg: self._event,
            Grains: self._grains,
            Bye: lambda mid, s, body: end_session(mid, "said goodbye"),
        }

    def handle(self, mid: str, session: Session, body: Record) -> None:
        self.table[type(body)](mid, session, body)

    def _heartbeat(self, mid: str, session: Session, hb: Heartbeat) -> None:
        session.vms = frozenset(hb.vms)
        session.running = frozenset(hb.running)
        session.last_hb = time.monotonic()
        self.reply(session, Pong(time.time()))

    def _grains(self, mid: str, session: Session, msg: Grains) -> None:
        self.grains[mid] = msg.grains

    def _event(self, mid: str, session: Session, msg: EventMsg) -> None:
        if not events.minion_may_fire(mid, msg.tag, owns_vm=session.vms.__contains__):
            self.refused_events += 1
            log.warning("minion %s may not fire event %r (only about itself and the VMs it holds)",
                        mid, msg.tag[:200])
            return
        self.fire(msg.tag, {**msg.data, "_minion": mid})
