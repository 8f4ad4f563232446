"""Salt's mine schedule: the minion runs its ``mine_functions`` at start and every
``mine_interval`` minutes, and sends the results to each of its masters.

Each run is a ``mine.update`` job in the minion's own lanes (bounded like any job: a full lane
refuses it, and it is tried again later), one per master, sent over that master's sealed channel
(:mod:`pvc.modules.mine`). A master gets its first update as soon as the minion has
authenticated with it; one not yet authenticated waits. At most one run per master is under way;
a failed run (a busy or unreachable master) is tried again after ``RETRY`` seconds. Imported
only when ``mine_functions`` is set: an idle plain minion pays nothing.

Example::

    schedule = MineSchedule(cfg)                     # ConfigError if badly set: before any socket
    schedule.serve(functions, cores, runner)         # once the minion's cores exist
    schedule.tick(time.monotonic())                  # from the process loop
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from pvc.config import MinionConfig
from pvc.minion.core import MinionCore
from pvc.minion.functions import MinionFunctions
from pvc.minion.runner import JobRunner
from pvc.modules.mine import MineConfig, mine_functions
from pvc.results import Return

log = logging.getLogger(__name__)
RETRY = 30.0
FUN = "mine.update"


@dataclass
class _Slot:
    """One master's next run."""

    core: MinionCore
    due: float = 0.0
    running: bool = False


class MineSchedule:
    def __init__(self, cfg: MinionConfig) -> None:
        """The schedule of ``cfg``'s mine; its functions are checked now, so a bad
        ``mine_functions`` stops the minion at start with the reason."""
        names = [fn.name for fn in mine_functions(MineConfig(dict(cfg.mine_functions), cfg.mine_interval))]
        log.info("mine: %s every %g min", ", ".join(names), cfg.mine_interval)
        self.interval = cfg.mine_interval * 60.0  # seconds
        self.slots: list[_Slot] = []
        self._jids = itertools.count(1)

    def serve(self, functions: MinionFunctions, cores: Sequence[MinionCore], runner: JobRunner) -> None:
        """Run the mine for these cores (one per master) with the minion's functions and lanes."""
        self.functions = functions
        self.runner = runner
        self.slots = [_Slot(core) for core in cores]

    def tick(self, now: float) -> None:
        for slot in self.slots:
            if slot.running or now < slot.due or slot.core.state != "authed":
                continue
            slot.running, slot.due = True, now + self.interval
            jid = f"mine-{next(self._jids)}"
            self.runner.submit(partial(self._run, slot.core, jid), partial(self._done, slot, now), jid=jid, fun=FUN)

    def _run(self, core: MinionCore, jid: str) -> Return:  # a worker thread
        return self.functions.call(FUN, jid=jid, master=core.link)

    def _done(self, slot: _Slot, started: float, ret: Return) -> None:  # the loop thread
        slot.running = False
        if ret.ok and not ret.data.get("failed"):
            return
        why = ret.error if not ret.ok else "; ".join(ret.data["failed"].values())
        log.warning("mine: update for master %s: %s", slot.core.cfg.master, why[:500])
        if not ret.ok:
            slot.due = min(slot.due, started + RETRY)
