"""``vm.*`` runners: VMs in the cluster — define, list, info, power, migrate, move, remove.

The desired state and placement live in the VM record in ZooKeeper; every change to a node goes
through a job on that node (``virt.*``); what libvirt reports back is kept by the coordinator's
state sync (:mod:`pvc.runners.statesync`) and shown as ``state``.

Example::

    pvc runner vm.define "$(cat vm1.xml)" selector=memprov node_limit='[hv1, hv2]'
    pvc runner vm.migrate vm1 node=hv3
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

from pvc.cluster.errors import RecordNotFound, TransactionConflict
from pvc.cluster.records import MigrationMethod, Selector, VMRecord, VMState
from pvc.runners.context import RunnerContext
from pvc.runners.errors import NodeJobFailed, RunnerArgumentError, StateError
from pvc.runners.inventory import node_views, vm_demand
from pvc.runners.placement import VMDemand, make_plan
from pvc.runners.registry import RunnerSpec
from pvc.runners.relocate import migrate as migrate_job
from pvc.runners.relocate import moved, record_move
from pvc.runners.tree import VMStatus
from pvc.runners.vmxml import demand


def _choice(enum: Any, value: str | None, what: str) -> Any:
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        raise RunnerArgumentError(f"{what} must be one of {[m.value for m in enum]}, got {value!r}") from None


def define(ctx: RunnerContext, xml: str, node: str | None = None, selector: str | None = None,
           node_limit: Sequence[str] = (), migration_method: str | None = None, autostart: bool = False,
           tags: Sequence[str] = (), start: bool = True) -> dict[str, Any]:
    """Record a VM from its libvirt domain ``xml`` and define (and start) it on one node: ``node``,
    or the one its ``selector`` picks within ``node_limit`` (never overcommitting memory).
    With test=True only the placement is returned.

    Example: ``pvc runner vm.define "$(cat vm1.xml)" selector=mem node_limit='[hv1, hv2]'``
    """
    config = ctx.store.config().record
    size = demand(xml)
    sel = _choice(Selector, selector, "selector")
    method = _choice(MigrationMethod, migration_method, "migration_method") or config.default_migration_method
    try:
        ctx.store.vm(size.name)
        raise StateError(f"VM {size.name} already exists (remove it first, or migrate/move it)")
    except RecordNotFound:
        pass
    want = VMDemand(size.name, None, size.memory, size.vcpus, sel or config.default_selector, tuple(node_limit))
    plan = make_plan(node_views(ctx.store), [want], targets={size.name: node} if node else None)
    plan.raise_if_unplaced()
    target = plan.moves[0].target
    if ctx.test:
        return {"name": size.name, "node": target, "memory": size.memory, "vcpus": size.vcpus, "test": True}
    record = VMRecord(size.name, xml, VMState.START if start else VMState.STOP, node=target, tags=tuple(tags),
                      migration_method=method, selector=sel, node_limit=tuple(node_limit), autostart=autostart)
    try:
        with ctx.store.batch() as b:
            b.put_vm(record, None)
    except TransactionConflict:
        raise StateError(f"VM {size.name} was defined meanwhile by someone else") from None
    try:
        ctx.jobs.call(target, "virt.define", [], {"xml": xml})
        if start:
            ctx.jobs.call(target, "virt.start", [size.name])
    except NodeJobFailed as exc:
        reason = str(exc)
        record_move(ctx, size.name, lambda v: dataclasses.replace(v, desired_state=VMState.FAIL,
                                                                  failure_reason=reason))
        raise
    return {"name": size.name, "node": target, "memory": size.memory, "vcpus": size.vcpus,
            "state": "start" if start else "stop"}


def _row(vm: VMRecord, status: VMStatus | None) -> dict[str, Any]:
    try:
        size = demand(vm.definition)
        memory, vcpus = size.memory, size.vcpus
    except Exception:  # noqa: BLE001 - a bad definition is shown, not fatal to a listing
        memory, vcpus = 0, 0
    return {"name": vm.name, "node": vm.node, "last_node": vm.last_node, "desired_state": vm.desired_state.value,
            "state": status.state if status else "unknown", "state_node": status.node if status else None,
            "state_since": status.since if status else None, "memory": memory, "vcpus": vcpus,
            "tags": list(vm.tags), "migration_method": vm.migration_method.value,
            "selector": vm.selector.value if vm.selector else None, "node_limit": list(vm.node_limit),
            "autostart": vm.autostart, "failure_reason": vm.failure_reason}


def list_(ctx: RunnerContext, node: str | None = None, state: str | None = None,
          tag: str | None = None) -> list[dict[str, Any]]:
    """Every VM: node, last node, desired and actual state, size, tags; filtered by ``node``,
    ``state`` (desired or actual) and ``tag``.

    Example: ``pvc runner vm.list node=hv1``
    """
    statuses = ctx.tree.statuses()
    rows = [_row(v.record, statuses.get(v.record.name)) for v in ctx.store.vms()]
    return [r for r in rows if (node is None or r["node"] == node)
            and (state is None or state in (r["state"], r["desired_state"]))
            and (tag is None or tag in r["tags"])]


def info(ctx: RunnerContext, name: str) -> dict[str, Any]:
    """One VM: the ``list`` fields, its definition XML and what its node's libvirt says now.

    Example: ``pvc runner vm.info vm1``
    """
    vm = ctx.store.vm(name).record
    row = {**_row(vm, ctx.tree.status(name)), "definition": vm.definition}
    if vm.node:
        try:
            row["libvirt"] = ctx.jobs.call(vm.node, "virt.info", [name], timeout=10)
        except NodeJobFailed as exc:
            row["libvirt"] = {"error": str(exc)}
    return row


def _power(ctx: RunnerContext, name: str, desired: VMState, fun: str, kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    vm = ctx.store.vm(name).record
    if vm.node is None:
        raise StateError(f"VM {name} is not placed on a node")
    record_move(ctx, name, lambda v: dataclasses.replace(v, desired_state=desired, failure_reason=None))
    out = ctx.jobs.call(vm.node, fun, [name], kwargs or {}, timeout=120)
    return {"name": name, "node": vm.node, "desired_state": desired.value, **(out or {})}


def start(ctx: RunnerContext, name: str) -> dict[str, Any]:
    """Start the VM on its node. Example: ``pvc runner vm.start vm1``"""
    return _power(ctx, name, VMState.START, "virt.start")


def shutdown(ctx: RunnerContext, name: str, timeout: float = 60.0) -> dict[str, Any]:
    """Ask the guest to power off (ACPI), waiting up to ``timeout`` s. Example: ``pvc runner vm.shutdown vm1``"""
    return _power(ctx, name, VMState.SHUTDOWN, "virt.shutdown", {"timeout": timeout})


def stop(ctx: RunnerContext, name: str) -> dict[str, Any]:
    """Power the VM off at once. Example: ``pvc runner vm.stop vm1``"""
    return _power(ctx, name, VMState.STOP, "virt.destroy")


def restart(ctx: RunnerContext, name: str, timeout: float = 60.0) -> dict[str, Any]:
    """Shut down and start again (a changed definition takes effect). Example: ``pvc runner vm.restart vm1``"""
    out = _power(ctx, name, VMState.RESTART, "virt.restart", {"timeout": timeout, "force": True})
    record_move(ctx, name, lambda v: dataclasses.replace(v, desired_state=VMState.START))
    return {**out, "desired_state": VMState.START.value}


def remove(ctx: RunnerContext, name: str) -> dict[str, Any]:
    """Stop the VM, undefine it on its node and delete its record (its disks stay).

    Example: ``pvc runner vm.remove vm1``
    """
    current = ctx.store.vm(name)
    node = current.record.node
    if node is not None:
        try:
            ctx.jobs.call(node, "virt.destroy", [name])
            ctx.jobs.call(node, "virt.undefine", [name])
        except NodeJobFailed as exc:
            if "DomainNotFound" not in str(exc):
                raise
    with ctx.store.batch() as b:
        b.delete_vm(name, current.version)
    ctx.tree.drop_status(name)
    return {"name": name, "node": node, "removed": True}


def _relocate(ctx: RunnerContext, name: str, target: str | None, last_node: Any, method: str | None,
              pick: bool = True) -> dict[str, Any]:
    """Place VM ``name`` on ``target`` (or the one its selector picks), migrate it there, record
    ``last_node`` (a callable of the old record)."""
    vm = ctx.store.vm(name).record
    if vm.node is None:
        raise StateError(f"VM {name} is not placed on a node")
    if target == vm.node:
        raise StateError(f"VM {name} is already on {target}")
    want = vm_demand(vm, ctx.store.config().record.default_selector)
    plan = make_plan(node_views(ctx.store), [want], targets={name: target} if target else None)
    plan.raise_if_unplaced()
    dest = plan.moves[0].target
    if ctx.test:
        return {"name": name, "source": vm.node, "target": dest, "test": True}
    t0 = time.monotonic()
    out = migrate_job(ctx, vm, dest, method)
    record_move(ctx, name, lambda v: moved(v, dest, last_node(v)))
    return {"name": name, "source": vm.node, "target": dest, "method": out.get("method"),
            "attempts": out.get("attempts"), "downtime_ms": out.get("downtime_ms"),
            "duration": round(time.monotonic() - t0, 3)}


def migrate(ctx: RunnerContext, name: str, node: str | None = None, method: str | None = None) -> dict[str, Any]:
    """Move the VM for a while: to ``node`` or where its selector says; ``last_node`` remembers its
    home (kept if it was already away) so ``vm.unmigrate`` brings it back.

    Example: ``pvc runner vm.migrate vm1 node=hv3``
    """
    _choice(MigrationMethod, method, "method")
    return _relocate(ctx, name, node, lambda v: v.last_node or v.node, method)


def unmigrate(ctx: RunnerContext, name: str, method: str | None = None) -> dict[str, Any]:
    """Bring a migrated VM back to its ``last_node``. Example: ``pvc runner vm.unmigrate vm1``"""
    vm = ctx.store.vm(name).record
    if vm.last_node is None:
        raise StateError(f"VM {name} has no last node: it was not migrated")
    return _relocate(ctx, name, vm.last_node, lambda v: None, method)


def move(ctx: RunnerContext, name: str, node: str, method: str | None = None) -> dict[str, Any]:
    """Move the VM for good: its new home is ``node`` (``last_node`` cleared).

    Example: ``pvc runner vm.move vm1 hv2``
    """
    return _relocate(ctx, name, node, lambda v: None, method)


SPEC = RunnerSpec("vm", (define, list_, info, start, shutdown, stop, restart, remove, migrate, unmigrate, move))
