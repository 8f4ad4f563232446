"""VM failure recovery: a VM whose QEMU died is started again — on its node a few times, then
once elsewhere, then it is marked ``fail`` with the reason (``pvc vm list`` shows it).

Only a **crash** counts: libvirt's "stopped (crashed/failed)" lifecycle events, which minions put on
the bus as ``pvc/vm/<name>/crashed``; a requested stop or a guest's own shutdown is ``stopped`` and
is left alone, and so is a VM whose desired state is not running or whose node is not a live,
running node (a dead node is the fencer's). The coordinator runs this service on the primary; at
start it also handles VMs whose observed state is ``crashed`` (events the previous primary may
have missed).

The rate is bounded by a :class:`RestartPolicy` and a history per VM in ZooKeeper
(``<root>/runners/restarts/<vm>``), so a failover does not reset it: at most ``max_restarts``
restarts in place within ``window`` seconds, then ``max_moves`` moves to the node placement picks
(capacity-checked as for a flush), then ``fail``. Events: ``pvc/vm/<vm>/restarted``, ``moved``,
``failed``.

Example::

    service = VMRestarter(ctx, master_cfg)
    threading.Thread(target=service.run, args=(stop,)).start()
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import Any

from pvc import events
from pvc.cluster.codec import decode, encode
from pvc.cluster.errors import RecordNotFound
from pvc.cluster.records import DaemonState, VMState
from pvc.config import MasterConfig
from pvc.ids import validate_minion_id
from pvc.runners.bus import BusEvents
from pvc.runners.context import RunnerContext
from pvc.runners.errors import NodeJobFailed, PlacementError
from pvc.runners.inventory import node_views, vm_demand
from pvc.runners.placement import make_plan
from pvc.runners.recovery import RUNNING_STATES
from pvc.runners.relocate import migrate, moved, record_move

MAX_HISTORY = 64  # crash times kept per VM (bounded whatever the policy)
JOB_TIMEOUT = 60.0


@dataclass(frozen=True)
class RestartPolicy:
    max_restarts: int = 3   # restarts in place within the window
    max_moves: int = 1      # then moves to another node within the window
    window: float = 300.0   # seconds; a VM that ran this long without crashing starts afresh


@dataclass(frozen=True)
class RestartHistory:
    """Crash times (Unix) within the window, restarts in place since the last move, and moves."""

    vm: str
    crashes: tuple[float, ...] = ()
    restarts: int = 0
    moves: int = 0


def decide(history: RestartHistory, now: float, policy: RestartPolicy) -> tuple[str, RestartHistory]:
    """What to do with one more crash at ``now``: ``restart``, ``move`` or ``fail``, and the
    history to record. Pure; a VM without a crash in the last ``window`` seconds starts afresh.

    >>> decide(RestartHistory("vm1"), 100.0, RestartPolicy())[0]
    'restart'
    >>> decide(RestartHistory("vm1", (97.0, 98.0, 99.0), restarts=3), 100.0, RestartPolicy())[0]
    'move'
    """
    recent = tuple(t for t in history.crashes if now - t < policy.window)
    restarts, moves = (history.restarts, history.moves) if recent else (0, 0)
    crashes = (*recent, now)[-MAX_HISTORY:]
    if restarts < policy.max_restarts:
        return "restart", RestartHistory(history.vm, crashes, restarts + 1, moves)
    if moves < policy.max_moves:
        return "move", RestartHistory(history.vm, crashes, 0, moves + 1)
    return "fail", RestartHistory(history.vm, crashes, restarts, moves)


class VMRestarter:
    name = "vm-restart"

    def __init__(self, ctx: RunnerContext, cfg: MasterConfig, policy: RestartPolicy | None = None) -> None:
        self.ctx, self.cfg = ctx, cfg
        self.policy = policy or RestartPolicy()
        base = "" if ctx.store.schema.root == "/" else ctx.store.schema.root
        self.path = f"{base}/runners/restarts"
        self.handled = 0

    def run(self, stop: threading.Event) -> None:
        with BusEvents(self.cfg, "pvc/vm/") as bus:
            self.ctx.store.client.retry(self.ctx.store.client.zk.ensure_path, self.path)
            for name, status in self.ctx.tree.statuses().items():
                if status.state == "crashed" and status.node:
                    self.crashed(name, status.node)
            while not stop.is_set():
                event = bus.next(0.2)
                if event is None:
                    continue
                tag, data = event
                parts = tag.split("/")
                if len(parts) != 4 or parts[3] != "crashed" or not isinstance(data.get("node"), str):
                    continue
                try:
                    self.crashed(parts[2], data["node"])
                except Exception as exc:  # noqa: BLE001 - one bad event never ends the service
                    self.ctx.log.warning("vm restart: %s: %s", tag, exc)

    def crashed(self, name: str, node: str) -> str | None:
        """Handle one crash of VM ``name`` on ``node``; the action taken, or None (not ours)."""
        store = self.ctx.store
        try:
            vm = store.vm(validate_minion_id(name)).record
            host = store.node(validate_minion_id(node)).record
        except RecordNotFound:
            return None
        if vm.node != node or vm.desired_state not in RUNNING_STATES:
            return None
        if host.daemon_state is not DaemonState.RUN or node not in store.alive():
            return None
        action, history = decide(self._history(name), time.time(), self.policy)
        self._put_history(history)
        self.handled += 1
        data: dict[str, Any] = {"vm": name, "node": node, "crashes": len(history.crashes)}
        try:
            if action == "restart":
                self.ctx.jobs.call(node, "virt.start", [name], timeout=JOB_TIMEOUT)
            elif action == "move":
                data["target"] = self._move(name)
        except (NodeJobFailed, PlacementError) as exc:
            action, data["error"] = "fail", str(exc)
        if action == "fail":
            reason = data.get("error") or (f"crashed {len(history.crashes)} times within {self.policy.window:g} s "
                                           f"(restarted {self.policy.max_restarts}x, moved {history.moves}x)")
            record_move(self.ctx, name, lambda v: dataclasses.replace(v, desired_state=VMState.FAIL,
                                                                      failure_reason=reason))
            data["reason"] = reason
        self.ctx.log.warning("vm %s crashed on %s: %s", name, node, action)
        self._fire(events.vm(name, {"restart": "restarted", "move": "moved", "fail": "failed"}[action]), data)
        return action

    def _move(self, name: str) -> str:
        """Move the stopped VM (its definition) to the node placement picks, and start it there."""
        vm = self.ctx.store.vm(name).record
        default = self.ctx.store.config().record.default_selector
        plan = make_plan(node_views(self.ctx.store), [vm_demand(vm, default)], exclude={vm.node or ""})
        plan.raise_if_unplaced()
        target = plan.moves[0].target
        migrate(self.ctx, vm, target, method="shutdown")
        record_move(self.ctx, name, lambda v: moved(v, target, v.last_node or v.node))
        self.ctx.jobs.call(target, "virt.start", [name], timeout=JOB_TIMEOUT)
        return target

    def _history(self, name: str) -> RestartHistory:
        from kazoo.exceptions import NoNodeError

        path = f"{self.path}/{validate_minion_id(name)}"
        try:
            data, _ = self.ctx.store.client.retry(self.ctx.store.client.zk.get, path)
        except NoNodeError:
            return RestartHistory(name)
        return decode(RestartHistory, data, path)

    def _put_history(self, history: RestartHistory) -> None:
        from kazoo.exceptions import NoNodeError

        zk, path = self.ctx.store.client.zk, f"{self.path}/{validate_minion_id(history.vm)}"
        try:
            self.ctx.store.client.retry(zk.set, path, encode(history))
        except NoNodeError:
            self.ctx.store.client.retry(zk.create, path, encode(history), makepath=True)

    def _fire(self, tag: str, data: dict[str, Any]) -> None:
        try:
            self.ctx.fire_event(tag, data)
        except Exception as exc:  # noqa: BLE001 - the bus is an observer
            self.ctx.log.warning("event %s not fired: %s", tag, exc)
