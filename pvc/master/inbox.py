"""What the master does with each kind of box a minion sends: a table, not a ladder.

Every body was decoded into its typed record (:mod:`pvc.wire.inner`) before it gets here.
Events are checked against :func:`pvc.events.minion_may_fire`: a minion speaks only about
itself and the VMs it holds (:mod:`pvc.master.vmclaims`); the master stamps the sender into
the data. An event about a VM whose claim is still passing to the sender (a migration: the
destination's "started" may come before the source lets go) is held a few seconds and
delivered once the claim arrives, or dropped with a warning.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from pvc import events
from pvc.master.returns import Returns
from pvc.master.sessions import Session
from pvc.master.sharedgrains import shared
from pvc.master.vmclaims import VmClaims
from pvc.wire.files import REQUESTS as FILE_REQUESTS
from pvc.wire.inner import Bye, EventMsg, Grains, Heartbeat, Lost, Pong, Ret
from pvc.wire.mine import REQUESTS as MINE_REQUESTS
from pvc.wire.record import Record

log = logging.getLogger(__name__)
HOLD_FOR = 10.0
SKEW_WARN = 60.0
HOLD_MAX = 1024


def _served(serve: Callable[[str, Record], None], mid: str, session: Session, body: Record) -> None:
    serve(mid, body)


class Inbox:
    def __init__(self, returns: Returns, grains: dict[str, dict[str, Any]],
                 reply: Callable[[Session, Record], None], fire: Callable[[str, dict], None],
                 end_session: Callable[[str, str], None],
                 files: Callable[[str, Record], None] | None = None,
                 pace: Callable[[], float] = lambda: 0.0,
                 mine: Callable[[str, Record], None] | None = None) -> None:
        self.returns = returns
        self.pace = pace  # the heartbeat interval to ask of a minion (pvc.master.sessions)
        self.grains = grains
        self.reply = reply
        self.fire = fire
        self.end_session = end_session
        self.claims = VmClaims()
        self.held: deque[tuple[float, str, EventMsg]] = deque()
        self.refused_events = 0
        self.table: dict[type[Record], Callable[[str, Session, Any], None]] = {
            Ret: lambda mid, s, body: returns.on_return(mid, body),
            Lost: lambda mid, s, body: returns.on_lost(mid, body),
            Heartbeat: self._heartbeat,
            EventMsg: self._event,
            Grains: self._grains,
            Bye: lambda mid, s, body: end_session(mid, "said goodbye"),
        }
        # files and pillar (pvc.master.fileserver) and the mine (pvc.master.mine), off the loop thread
        for kinds, serve in ((FILE_REQUESTS, files), (MINE_REQUESTS, mine)):
            for kind in kinds:
                self.table[kind] = self._unserved if serve is None else partial(_served, serve)

    def handle(self, mid: str, session: Session, body: Record) -> None:
        self.table[type(body)](mid, session, body)

    def _unserved(self, mid: str, session: Session, body: Record) -> None:
        log.debug("minion %s sent a %s; this master serves none", mid, body.KIND)

    def _heartbeat(self, mid: str, session: Session, hb: Heartbeat) -> None:
        session.vms = frozenset(hb.vms)
        if self.claims.update(mid, session.vms) and self.held:
            self._release_held()
        session.running = {job.jid: job for job in hb.running}
        if hb.now:
            self._clock(mid, session, hb.now - time.time())
        session.last_hb = time.monotonic()
        session.every = self.pace()
        self.reply(session, Pong(time.time(), session.every))

    def _clock(self, mid: str, session: Session, skew: float) -> None:
        """Say so when a minion's clock is far off: pvc works regardless (freshness comes from
        challenges, counters and the master's clock), but logs, certificates and Ceph care."""
        if abs(skew) > SKEW_WARN and abs(skew - session.skew) > SKEW_WARN / 2:
            log.warning("minion %s: its clock is %+.0f s off the master's (pvc judges jobs by the master's clock; "
                        "check NTP on that host)", mid, skew)
        session.skew = skew

    def _grains(self, mid: str, session: Session, msg: Grains) -> None:
        self.grains[mid] = shared(msg.grains)

    def session_ended(self, mid: str) -> None:
        if self.claims.drop(mid) and self.held:
            self._release_held()

    def _event(self, mid: str, session: Session, msg: EventMsg) -> None:
        if events.minion_may_fire(mid, msg.tag, owns_vm=partial(self.claims.holds, mid)):
            self.fire(msg.tag, {**msg.data, "_minion": mid})
            return
        listed = events.minion_may_fire(mid, msg.tag, owns_vm=session.vms.__contains__)
        if listed and len(self.held) < HOLD_MAX:  # its claim may be on the way: wait for it
            self.held.append((time.monotonic() + HOLD_FOR, mid, msg))
            return
        self._refuse(mid, msg)

    def _refuse(self, mid: str, msg: EventMsg) -> None:
        self.refused_events += 1
        log.warning("minion %s may not fire event %r (only about itself and the VMs it holds)", mid, msg.tag[:200])

    def _release_held(self) -> None:
        held, self.held = self.held, deque()
        for deadline, mid, msg in held:
            if events.minion_may_fire(mid, msg.tag, owns_vm=partial(self.claims.holds, mid)):
                self.fire(msg.tag, {**msg.data, "_minion": mid})
            else:
                self.held.append((deadline, mid, msg))

    def expire_held(self, now: float) -> None:
        while self.held and self.held[0][0] <= now:
            _, mid, msg = self.held.popleft()
            self._refuse(mid, msg)
