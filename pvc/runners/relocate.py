"""Move one VM to another node through a ``virt.migrate`` job on its source, then record it.

``virt.migrate`` moves a running VM live (falling back to shutdown only where the VM's method
allows) and a stopped one by its definition, and undefines it on the source: a VM is defined on
one node at a time. The VM record is updated afterwards (node, last_node) with a
compare-and-set, so a concurrent edit is re-read, never overwritten.

:func:`locate` answers where a VM is now, for a primary resuming a move the previous one began.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from pvc.cluster.errors import TransactionConflict
from pvc.cluster.records import VMRecord
from pvc.runners.context import RunnerContext
from pvc.runners.errors import NodeJobFailed

MIGRATE_RETRIES = 2
MAX_DOWNTIME_MS = 300  # PVC's default; to become a VM record field (max_downtime)
MIGRATE_TIMEOUT = 120.0
SETTLE_TIMEOUT = 60.0


def migrate(ctx: RunnerContext, vm: VMRecord, target: str, method: str | None = None) -> dict[str, Any]:
    """Run the migration job; its outcome (method, attempts, duration, downtime_ms)."""
    if vm.node is None:
        raise NodeJobFailed(target, "virt.migrate", f"{vm.name} is not placed on any node")
    out: dict[str, Any] = ctx.jobs.call(
        vm.node, "virt.migrate", [vm.name, ctx.dest_uri(target)],
        {"method": method or vm.migration_method.value, "retries": MIGRATE_RETRIES,
         "timeout": MIGRATE_TIMEOUT, "max_downtime_ms": MAX_DOWNTIME_MS},
        timeout=MIGRATE_TIMEOUT * (MIGRATE_RETRIES + 1) + 30)
    return out


def record_move(ctx: RunnerContext, name: str, change: Callable[[VMRecord], VMRecord],
                extra: Callable[[Any], None] | None = None, attempts: int = 5) -> VMRecord:
    """Read-modify-write the VM record (``extra(batch)`` adds operations to the same batch)."""
    for attempt in range(attempts):
        current = ctx.store.vm(name)
        new = change(current.record)
        try:
            with ctx.store.batch() as b:
                b.put_vm(new, current.version)
                if extra is not None:
                    extra(b)
            return new
        except TransactionConflict:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def moved(vm: VMRecord, target: str, last_node: str | None) -> VMRecord:
    return dataclasses.replace(vm, node=target, last_node=last_node, failure_reason=None)


def locate(ctx: RunnerContext, name: str, nodes: list[str]) -> dict[str, str]:
    """``{node: libvirt state}`` for each of ``nodes`` that has VM ``name`` defined."""
    found: dict[str, str] = {}
    for node, rows in ctx.jobs.each(nodes, "virt.list").items():
        for row in rows or []:
            if isinstance(row, dict) and row.get("name") == name:
                found[node] = str(row.get("state"))
    return found


def settle(ctx: RunnerContext, name: str, source: str, target: str,
           timeout: float = SETTLE_TIMEOUT) -> str | None:
    """Where a VM whose move may be under way ends up: ``target``, ``source``, or None when it is
    on neither. While it is on both (a migration in flight) wait, up to ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        found = locate(ctx, name, [source, target])
        if len(found) < 2 or time.monotonic() >= deadline:
            if target in found and source not in found:
                return target
            return source if source in found else (target if target in found else None)
        time.sleep(delay)  # bounded by the deadline: the job on the source is still migrating
        delay = min(delay * 2, 2.0)
