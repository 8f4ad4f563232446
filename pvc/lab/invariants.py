"""Safety invariants of a lab cluster, checked where they matter: in every node's libvirt.

ZooKeeper says where a VM *should* run; only the nodes' libvirt daemons say where it *does*. A
fencing or recovery bug shows as a VM running on two nodes (two QEMUs writing one disk) or a VM
that runs nowhere although it should, so those are read from each powered-on node's libvirtd
directly (its unix socket, from the host: this works while the node's minion is hung, and
fails at once, not after a TCP timeout, when the node is off). A node whose power is off runs
nothing. A domain counts when libvirt's state for it is *running*: libvirt keeps that state
itself (no answer from QEMU is needed), so a SIGSTOPped QEMU (a hung node) still counts, as it
would on real hardware; the paused copy on the destination of a live migration does not (the
guest runs on one side at a time: the source pauses before the destination resumes).

A snapshot reads the nodes one after the other, so a live migration that switches over between
two reads shows its source (read first: still running) and its destination (read later: resumed)
both running. :func:`confirmed` tells that apart from a real double run by reading the nodes
again at once in the reverse order: the destination comes first and the source, paused or gone
by then, no longer counts, while a VM really running on two nodes is seen so again. (An overlap
shorter than that re-read escapes sampling: the fence record's times cover it, a recovery step
never starting before the node was confirmed off.)

For the fence tests and the benchmarks: call :func:`snapshot` after (or during) every step and
:func:`confirmed` on its :func:`violations`.

Example::

    snap = snapshot(Path("/tmp/lab"))
    snap.running            # {"hv1": {"vm1"}, "hv2": {"vm2"}, "hv3": set()}
    confirmed(Path("/tmp/lab"), violations(snap, expected={"vm1", "vm2"}))  # [] when every VM runs exactly once
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pvc.lab import node as nodes
from pvc.lab import state
from pvc.lab.errors import LabError


@dataclass(frozen=True)
class Snapshot:
    """What each node's libvirt runs (``running``), and the nodes that were off (``off``)."""

    running: Mapping[str, frozenset[str]]
    off: frozenset[str] = field(default_factory=frozenset)

    def homes(self) -> dict[str, list[str]]:
        """VM -> the nodes running it (sorted)."""
        out: dict[str, list[str]] = {}
        for node in sorted(self.running):
            for vm in self.running[node]:
                out.setdefault(vm, []).append(node)
        return out


@dataclass(frozen=True)
class Violation:
    kind: str   # "double-run" or "not-running"
    vm: str
    nodes: tuple[str, ...]

    def __str__(self) -> str:
        where = ", ".join(self.nodes) or "no node"
        return f"{self.kind}: {self.vm} on {where}"


def running_domains(uri: str) -> frozenset[str]:
    """Names of the domains running in the libvirtd at ``uri`` (raises :class:`LabError` if it
    does not answer)."""
    import libvirt

    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # errors are raised, not printed too
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise LabError(f"libvirt at {uri} does not answer: {exc.get_error_message()}") from None
    try:
        active = conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)
    except libvirt.libvirtError as exc:
        conn.close()
        raise LabError(f"libvirt at {uri}: {exc.get_error_message()}") from None
    running = set()
    try:
        for dom in active:
            try:
                if dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING:
                    running.add(dom.name())
            except libvirt.libvirtError:
                continue  # gone since the list (stopped, or migrated away): not running here
    finally:
        conn.close()
    return frozenset(running)


def snapshot(lab_dir: Path) -> Snapshot:
    """Every node's running domains, read from its own libvirtd (nodes powered off: none)."""
    lab = state.load(lab_dir)
    running: dict[str, frozenset[str]] = {}
    off: set[str] = set()
    for node in lab.nodes:
        if not nodes.is_on(node):
            running[node.name] = frozenset()
            off.add(node.name)
            continue
        try:
            running[node.name] = running_domains(node.libvirt_uri)
        except LabError:
            if nodes.is_on(state.load(lab_dir).node(node.name)):
                raise
            running[node.name] = frozenset()  # powered off while we asked
            off.add(node.name)
    return Snapshot(running, frozenset(off))


def violations(snap: Snapshot, expected: Collection[str] = ()) -> list[Violation]:
    """A VM running on more than one node, and (for the names in ``expected``) a VM running on none."""
    homes = snap.homes()
    found = [Violation("double-run", vm, tuple(where)) for vm, where in sorted(homes.items()) if len(where) > 1]
    found += [Violation("not-running", vm, ()) for vm in sorted(expected) if vm not in homes]
    return found


def still_running(lab_dir: Path, vm: str, where: Collection[str]) -> tuple[str, ...]:
    """The nodes of ``where`` that run ``vm`` when read again now, in the reverse of
    :func:`snapshot`'s order (sorted; a node that went off meanwhile runs nothing)."""
    lab = state.load(lab_dir)
    still = []
    for node in reversed([n for n in lab.nodes if n.name in where]):
        try:
            if vm in running_domains(node.libvirt_uri):
                still.append(node.name)
        except LabError:
            continue
    return tuple(sorted(still))


def confirmed(lab_dir: Path, found: Iterable[Violation]) -> list[Violation]:
    """``found`` without the double runs that a re-read (:func:`still_running`) no longer shows
    on two nodes: a live migration's switch-over seen between two reads, not two QEMUs at once."""
    kept = []
    for v in found:
        if v.kind == "double-run":
            again = still_running(lab_dir, v.vm, v.nodes)
            if len(again) < 2:
                continue
            v = Violation(v.kind, v.vm, again)
        kept.append(v)
    return kept
